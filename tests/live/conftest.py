"""Live-ledger fixtures: a small portfolio, a quick XGBoost model, SQLite and a real PostgreSQL.

The PostgreSQL server is the Debian package's (``make postgres`` installs it): ``initdb``
and ``pg_ctl`` run as the ``postgres`` system user (the server refuses root) on a data
folder in a temp dir and a free loopback port, and ``pg_ctl stop`` ends it after the
session. Without the package the PostgreSQL cases fail with what to install.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from payer_model.config import TrainConfig
from payer_model.data.contract import load_dataset
from payer_model.data.generate import generate_dataset, write_dataset


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def _as_postgres(*cmd: str) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return list(cmd)


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server for this session; yields a SQLAlchemy URL prefix (no database)."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.fail(
            "PostgreSQL server not installed: run `make postgres` (apt-get install postgresql)"
        )
    root = Path(tempfile.mkdtemp(prefix="payer-pg-"))
    data = root / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(data, "postgres")
    port = _free_port()
    subprocess.run(
        _as_postgres(
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
        ),
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as_postgres(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            opts,
            "-l",
            str(root / "log"),
            "-w",
            "start",
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(
            _as_postgres(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


def _new_pg_database(base: str) -> str:
    import sqlalchemy as sa

    name = "ledger_" + uuid.uuid4().hex[:12]
    eng = sa.create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with eng.connect() as con:
        con.execute(sa.text(f"CREATE DATABASE {name}"))
    eng.dispose()
    return f"{base}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request, tmp_path) -> str:
    """A fresh, empty ledger database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return _new_pg_database(request.getfixturevalue("postgres_server"))


@pytest.fixture(scope="session")
def live_tables(tmp_path_factory) -> dict[str, pd.DataFrame]:
    """60 customers over 14 months, validated contract tables."""
    out = tmp_path_factory.mktemp("live-portfolio")
    write_dataset(generate_dataset(60, 14, seed=11), out)
    ds = load_dataset(out)
    return {
        "customers": ds.customers,
        "invoices": ds.invoices,
        "payments": ds.payments,
        "reminders": ds.reminders,
    }


@pytest.fixture(scope="session")
def live_as_of(live_tables) -> date:
    last = pd.Timestamp(live_tables["invoices"]["invoice_date"].max())
    return (last - pd.Timedelta(days=45)).date()


@pytest.fixture(scope="session")
def quick_model(live_tables, live_as_of):
    """A small XGBoost rating model fitted on rule labels (fast; enough to rate and explain)."""
    from payer_model.features import compute
    from payer_model.modelling.baselines import rule_rating
    from payer_model.modelling.fit import new_model

    cfg = TrainConfig()
    cut = [(pd.Timestamp(live_as_of) - pd.DateOffset(months=m)).date() for m in (6, 4, 2)]
    feats = pd.concat([compute(live_tables, c, cfg) for c in cut], ignore_index=True)
    key = rule_rating(feats, cfg.labels)
    keep = key.notna().to_numpy()
    y = key[keep].map({"good": 0, "average": 1, "bad": 2}).to_numpy(dtype=np.int64)
    cfg.model.num_boost_round = 15
    return new_model(cfg).fit(feats[keep].reset_index(drop=True), y)


@pytest.fixture
def scorer(quick_model):
    from payer_model.live.rescore import Scorer
    from payer_model.policy.policies import DEFAULT_POLICY_FILE, load_policies

    return Scorer(quick_model, "test-1", TrainConfig(), load_policies(DEFAULT_POLICY_FILE))
