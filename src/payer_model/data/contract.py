"""Data contract: load a folder of tables, validate every row, quarantine the bad ones.

DESIGN §2. One folder holds ``customers``, ``invoices`` (required), ``payments`` and
``reminders`` as CSV (also ``.csv.gz``, ``.tsv``), Parquet or ``.xlsx``. Every row that
breaks a rule goes to a quarantine table with its reason codes; nothing is dropped silently.
A run stops (:class:`ContractError`) only for file-level problems or when the share of bad
invoice rows passes a limit.

Two layers:

* **Parsing** (plain vectorised pandas): every value is first seen as a stripped string;
  empty required values, unparseable dates and numbers and bad booleans are flagged here.
* **Rules** (pandera ``DataFrameSchema``, ``lazy=True``): value sets, signs, date order,
  uniqueness and cross-table references run on the typed frame; each check is named after
  its reason code and its failure cases are mapped back to rows by index.

Accepted value formats (anything else is quarantined, never guessed):

* Dates: year first only. ``yyyy-mm-dd`` (also ``/`` or ``.`` as separator), optionally with
  a time ``HH:MM[:SS[.fff]]`` and a ``Z``/``+hh:mm`` offset (ignored: the wall-clock date is
  kept), and ``yyyymmdd``. Dates before 1990-01-01 or more than a year after today are
  ``date_out_of_range`` (:func:`payer_model.data.parsing.check_plausible_date`). ``d/m/Y``
  vs ``m/d/Y`` is ambiguous and left to an importer. Output dates are ``datetime64[us]`` at
  midnight.
* Numbers: ``1234.5``, ``-1234.5``, ``1e3``, ``1,234.50``, ``1.234,50``, ``1234,5``,
  ``1 234,50`` (space, no-break space or apostrophe between thousand groups), ``1234.50-``
  (trailing minus, as SAP writes it) and ``(1234.50)`` (accounting negative). A value like
  ``1,234`` or ``1.234`` is ambiguous on its own: it follows the table's convention when
  other number cells of the same table show one unambiguously (``1234,5`` or ``1.234,50``
  => decimal comma; ``1234.5`` or ``1,234.50`` => decimal point). With no evidence the comma
  is read as a thousands separator (``1,234`` = 1234) and the dot as the decimal point
  (``1.234`` = 1.234), and a note says how many values were read that way. With conflicting
  evidence an ambiguous value is ``unparseable_number``.
* Booleans (``disputed``): true/false, yes/no, y/n, t/f, 1/0 in any case; empty = False.
  An empty ``disputed`` with a ``dispute_date`` counts as disputed.
* Value sets are case-insensitive, blanks and dashes read as ``_``: ``Sole Trader`` =
  ``sole_trader``, ``Credit Note`` = ``credit_note``, ``E-Mail`` = ``email``; currency codes
  are upper-cased.

Output tables (RangeIndex, columns in the order of ``schema.*_COLUMNS``): ids and other text
in pandas' default string dtype (``str`` on pandas 3, ``object`` on 2.2), dates
``datetime64[us]`` (NaT = unknown), money and numbers ``float64`` (NaN = unknown),
``disputed`` ``bool``. Absent optional tables are empty frames with their columns and
dtypes. Quarantine frames hold every source column as the original (stripped) string plus
``_row`` (line number in the file, header = 1; row position for Parquet and in-memory
frames), ``_reason`` (codes joined by ';', see ``payer_model.data.report.REASONS``) and
``_extra`` for surplus fields of a broken CSV line.

Modules: ``data.io`` reads files, ``data.parsing`` parses values, ``data.rules`` and
``data.validators`` hold the row rules, ``data.quarantine`` writes the quarantine and
``data.report`` holds the result types; this module ties them together.

Importing this module has no side effects; pandera is imported on first use.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from payer_model.data.io import find_table_files, read_table
from payer_model.data.quarantine import write_quarantine
from payer_model.data.report import ContractError, Dataset, ValidatedFrames, ValidationReport
from payer_model.data.rules import Outcome, PreparedTable, prepare_table
from payer_model.data.schema import (
    DATE_DTYPE,
    DEFAULT_CURRENCY,
    TABLE_COLUMNS,
    TABLE_SPECS,
    TABLES,
)
from payer_model.data.validators import (
    validate_customers,
    validate_invoices,
    validate_payments,
    validate_reminders,
)

logger = logging.getLogger(__name__)

__all__ = [
    "ContractError",
    "Dataset",
    "ValidatedFrames",
    "ValidationReport",
    "find_table_files",
    "load_dataset",
    "read_table",
    "validate_frames",
]


def _empty_frame(columns: tuple[str, ...]) -> pd.DataFrame:
    dtypes = {
        "payment_date": DATE_DTYPE,
        "sent_date": DATE_DTYPE,
        "created_date": DATE_DTYPE,
        "amount": "float64",
        "payment_terms_days": "float64",
        "credit_limit": "float64",
    }
    return pd.DataFrame({c: pd.Series([], dtype=dtypes.get(c, str)) for c in columns})


def _derive_customers(invoices: pd.DataFrame) -> pd.DataFrame:
    ids = pd.unique(invoices["customer_id"].astype(object))
    n = len(ids)
    return pd.DataFrame(
        {
            "customer_id": pd.Series(ids, dtype=object).astype(str),
            "customer_type": pd.Series(["company"] * n, dtype=object).astype(str),
            "industry": pd.Series(["unknown"] * n, dtype=object).astype(str),
            "country": pd.Series(["unknown"] * n, dtype=object).astype(str),
            "payment_terms_days": pd.Series(np.nan, index=range(n), dtype="float64"),
            "credit_limit": pd.Series(np.nan, index=range(n), dtype="float64"),
            "created_date": pd.Series(pd.NaT, index=range(n), dtype=DATE_DTYPE),
        }
    )


def _prepare_tables(
    tables: Mapping[str, pd.DataFrame | None], sources: dict[str, str], notes: list[str]
) -> dict[str, PreparedTable]:
    """The present contract tables, prepared; fills ``sources`` with a name per table."""
    unknown_tables = sorted(set(tables) - set(TABLES))
    if unknown_tables:
        notes.append(f"tables not in the contract ignored: {', '.join(unknown_tables)}")
    present: dict[str, PreparedTable] = {}
    for name in TABLES:
        frame = tables.get(name)
        source = sources.setdefault(name, name)
        if frame is None or len(frame) == 0:
            if name == "invoices":
                what = "empty (no data rows)" if frame is not None else "absent"
                raise ContractError(f"{source}: invoices table is {what}")
            continue
        if not isinstance(frame, pd.DataFrame):
            raise ContractError(f"{source}: expected a table, got {type(frame).__name__}")
        required, optional = TABLE_SPECS[name]
        present[name] = prepare_table(
            name, frame, source=source, required=required, optional=optional, notes=notes
        )
    return present


def _validate_all(
    present: dict[str, PreparedTable],
    default_currency: str,
    report: ValidationReport,
    notes: list[str],
) -> dict[str, Outcome]:
    """Run the validators in reference order: customers, invoices, payments, reminders."""
    outcomes: dict[str, Outcome] = {}
    customer_ids: pd.Index | None = None
    if "customers" in present:
        outcomes["customers"] = validate_customers(present["customers"], notes)
        customer_ids = pd.Index(outcomes["customers"].clean["customer_id"].astype(object))
    outcomes["invoices"] = validate_invoices(
        present["invoices"], customer_ids, default_currency, notes
    )
    invoices = outcomes["invoices"].clean
    if "customers" not in present:
        derived = _derive_customers(invoices)
        outcomes["customers"] = Outcome(derived, None, {}, np.ones(0, bool))
        report.derived["customers"] = len(derived)
        notes.append(f"customers table absent: derived {len(derived)} customers from invoices")
    if "payments" in present:
        outcomes["payments"] = validate_payments(present["payments"], invoices, notes)
    if "reminders" in present:
        outcomes["reminders"] = validate_reminders(present["reminders"], invoices, notes)
    return outcomes


def _collect(
    present: dict[str, PreparedTable], outcomes: dict[str, Outcome], report: ValidationReport
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Clean tables and quarantines of all four tables; counts into ``report``."""
    clean: dict[str, pd.DataFrame] = {}
    quarantine: dict[str, pd.DataFrame] = {}
    for name in TABLES:
        out = outcomes.get(name)
        clean[name] = out.clean if out is not None else _empty_frame(TABLE_COLUMNS[name])
        n_bad = 0
        if out is not None and out.quarantine is not None:
            quarantine[name] = out.quarantine
            n_bad = len(out.quarantine)
        report.rows_in[name] = len(present[name]) if name in present else 0
        report.rows_out[name] = len(clean[name])
        report.quarantined[name] = n_bad
        report.derived.setdefault(name, 0)
        if out is not None:
            for reason, count in out.reasons.items():
                report.reasons[f"{name}:{reason}"] = count
    return clean, quarantine


def validate_frames(
    tables: Mapping[str, pd.DataFrame | None],
    *,
    default_currency: str = DEFAULT_CURRENCY,
    sources: Mapping[str, str] | None = None,
) -> ValidatedFrames:
    """Validate in-memory contract tables (string or typed columns) row by row.

    The rules of the module docstring apply; ``load_dataset`` is a thin reader over this.
    Headers are stripped and lower-cased. A ``_row`` column, when present, gives the row
    numbers reported in the quarantine (else the 1-based position).

    Args:
        tables: Frames by table name (``customers``, ``invoices``, ``payments``,
            ``reminders``); ``invoices`` is required, a missing, None or empty optional
            table counts as absent. Customers absent => derived from accepted invoices
            (and ``unknown_customer`` never fires).
        default_currency: Currency of invoices whose ``currency`` is empty or absent.
        sources: Optional display name per table (e.g. the file path) for messages.

    Returns:
        ``(tables, quarantine, report)``: all four clean tables, the quarantined rows of
        the tables that have any, and the report.

    Raises:
        ContractError: If invoices are absent or empty, or a required column is missing.
        ValueError: If ``default_currency`` is not a three-letter code.
    """
    default_currency = str(default_currency).strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", default_currency):
        raise ValueError(f"default_currency must be a three-letter code, got {default_currency!r}")
    sources = dict(sources or {})
    notes: list[str] = []
    present = _prepare_tables(tables, sources, notes)
    report = ValidationReport(sources={k: v for k, v in sources.items() if k in present})
    outcomes = _validate_all(present, default_currency, report, notes)
    clean, quarantine = _collect(present, outcomes, report)
    report.notes = notes
    return ValidatedFrames(clean, quarantine, report)


# ------------------------------------------------------------------------------- loading


def log_report(report: ValidationReport) -> None:
    for name in TABLES:
        if not report.rows_in.get(name) and not report.derived.get(name):
            continue
        logger.info(
            "%s: %d rows in, %d accepted, %d quarantined, %d derived",
            name,
            report.rows_in[name],
            report.rows_out[name],
            report.quarantined[name],
            report.derived.get(name, 0),
        )
        if report.quarantined[name]:
            top = ", ".join(f"{r} ({n})" for r, n in report.top_reasons(name, 5))
            logger.warning("%s: %d rows quarantined: %s", name, report.quarantined[name], top)


def load_dataset(
    path: str | Path,
    *,
    quarantine_dir: str | Path | None = None,
    max_bad_share: float = 0.05,
    default_currency: str = DEFAULT_CURRENCY,
    enforce_limit: bool = True,
) -> Dataset:
    """Load and validate a data folder (DESIGN §2).

    Args:
        path: The data folder (a single file is read as the invoices table).
        quarantine_dir: Where to write ``<table>.csv`` of quarantined rows (original values
            plus ``_row`` and ``_reason``) and ``report.json``; nothing is written if None.
            Quarantine files of tables without bad rows left by an earlier run are removed.
        max_bad_share: Largest accepted share of quarantined invoice rows (0..1).
        default_currency: Currency of invoices without one.
        enforce_limit: Raise when the bad share of invoices passes ``max_bad_share``.

    Returns:
        The validated tables and the report.

    Raises:
        ContractError: For a missing folder, no/empty invoices file, a missing required
            column, an unreadable file, or (with ``enforce_limit``) too many bad invoice
            rows; the quarantine is written first in that case and ``e.report`` is set.
        ValueError: If ``max_bad_share`` is not within 0..1.
    """
    if not 0.0 <= max_bad_share <= 1.0:
        raise ValueError(f"max_bad_share must be within 0..1, got {max_bad_share}")
    path = Path(path)
    if path.is_file():
        files, notes = {"invoices": path}, [f"{path.name} read as the invoices table"]
        folder = path.parent
    else:
        files, notes = find_table_files(path)
        folder = path
    if quarantine_dir is not None and Path(quarantine_dir).resolve() == folder.resolve():
        raise ContractError(f"{quarantine_dir}: quarantine_dir must not be the data folder")
    frames: dict[str, pd.DataFrame] = {}
    for name, file in files.items():
        frame, more = read_table(file)
        notes.extend(more)
        if len(frame) == 0:
            if name == "invoices":
                raise ContractError(f"{file}: invoices file is empty (no data rows)")
            notes.append(f"{file.name} has no data rows: treated as absent")
            continue
        frames[name] = frame
    result = validate_frames(
        frames, default_currency=default_currency, sources={n: str(f) for n, f in files.items()}
    )
    report = result.report
    report.notes = notes + report.notes
    if quarantine_dir is not None:
        write_quarantine(Path(quarantine_dir), result.quarantine, report)
    log_report(report)
    share = report.bad_share("invoices")
    if enforce_limit and share > max_bad_share:
        top = ", ".join(f"{r} ({n})" for r, n in report.top_reasons("invoices", 3))
        where = report.quarantine_files.get("invoices", "no quarantine file (pass quarantine_dir)")
        raise ContractError(
            f"invoices: {share * 100:.1f}% of rows quarantined (limit {max_bad_share * 100:.1f}%);"
            f" top reasons: {top}; see {where}",
            report=report,
        )
    return result.to_dataset()
