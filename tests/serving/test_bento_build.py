"""Packaging: `bentoml build` from the repo holds the package and policies, not data."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from serving_helpers import REPO

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("serving")]


def test_bentoml_build(tmp_path):
    env = {**os.environ, "BENTOML_HOME": str(tmp_path / "home"), "BENTOML_DO_NOT_TRACK": "True"}
    res = subprocess.run(
        [sys.executable, "-m", "bentoml", "build", "-f", "serving/bentofile.yaml", "."],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    (bento,) = (tmp_path / "home" / "bentos" / "payer_model").glob("*/bento.yaml")
    files = {
        p.relative_to(bento.parent / "src").as_posix()
        for p in (bento.parent / "src").rglob("*")
        if p.is_file()
    }
    assert {
        "serving/service.py",
        "serving/policies.yaml",
        "src/payer_model/api/engine.py",
        "src/payer_model/features/online.py",
        "src/payer_model/features/batch.py",
    } <= files
    assert not any(f.startswith(("data/", "mlflow/", "tests/", "reports/")) for f in files)
    assert not any(f.endswith((".db", ".csv", ".parquet", ".pkl")) for f in files)
