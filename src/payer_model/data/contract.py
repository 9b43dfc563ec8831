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
  kept), and ``yyyymmdd``. Years outside 1900-2199 are ``date_out_of_range``. ``d/m/Y`` vs
  ``m/d/Y`` is ambiguous and left to an importer. Output dates are ``datetime64[us]`` at
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

Output tables (RangeIndex, columns in the order of ``*_COLUMNS`` below): ids and other text
in pandas' default string dtype (``str`` on pandas 3, ``object`` on 2.2), dates
``datetime64[us]`` (NaT = unknown), money and numbers ``float64`` (NaN = unknown),
``disputed`` ``bool``. Absent optional tables are empty frames with their columns and
dtypes. Quarantine frames hold every source column as the original (stripped) string plus
``_row`` (line number in the file, header = 1; row position for Parquet and in-memory
frames), ``_reason`` (codes joined by ';', see :data:`REASONS`) and ``_extra`` for surplus
fields of a broken CSV line.

Importing this module has no side effects; pandera is imported on first use.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from payer_model.data.schema import (
    CHANNELS,
    CUSTOMER_OPTIONAL,
    CUSTOMER_REQUIRED,
    CUSTOMER_TYPES,
    DEFAULT_CURRENCY,
    DOCUMENT_TYPES,
    INVOICE_OPTIONAL,
    INVOICE_REQUIRED,
    PAYMENT_OPTIONAL,
    PAYMENT_REQUIRED,
    PII_COLUMNS,
    REMINDER_OPTIONAL,
    REMINDER_REQUIRED,
    TABLES,
)

logger = logging.getLogger(__name__)

__all__ = [
    "CUSTOMER_COLUMNS",
    "INVOICE_COLUMNS",
    "PAYMENT_COLUMNS",
    "REASONS",
    "REMINDER_COLUMNS",
    "ContractError",
    "Dataset",
    "ValidatedFrames",
    "ValidationReport",
    "find_table_files",
    "load_dataset",
    "read_table",
    "validate_frames",
]

ROW_COL = "_row"
"""1-based line number in the source file (header = line 1); row position for frames."""
REASON_COL = "_reason"
"""Reason codes of a quarantined row, joined by ';'."""
READ_ERROR_COL = "_read_error"
"""Set by :func:`read_table` on rows the reader itself found broken (wrong field count)."""
EXTRA_COL = "_extra"
"""Surplus fields of a row with too many fields, joined by the file's delimiter."""
_HELPER_COLS = (ROW_COL, READ_ERROR_COL, EXTRA_COL)

# Output columns of the validated tables, in this order (name/email follow the customer
# columns only when the customers file has them).
CUSTOMER_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "customer_type",
    "industry",
    "country",
    "payment_terms_days",
    "credit_limit",
    "created_date",
)
INVOICE_COLUMNS: tuple[str, ...] = (
    "invoice_id",
    "customer_id",
    "document_type",
    "invoice_date",
    "due_date",
    "amount",
    "currency",
    "paid_date",
    "paid_amount",
    "disputed",
    "dispute_date",
    "written_off_date",
)
PAYMENT_COLUMNS: tuple[str, ...] = (
    "payment_id",
    "invoice_id",
    "customer_id",
    "payment_date",
    "amount",
)
REMINDER_COLUMNS: tuple[str, ...] = (
    "invoice_id",
    "customer_id",
    "sent_date",
    "channel",
    "outcome",
)

DATE_DTYPE = "datetime64[us]"

REASONS: dict[str, str] = {
    "missing_value:<col>": "a required value is empty",
    "unparseable_date:<col>": "not a year-first date (yyyy-mm-dd, yyyymmdd, optional time)",
    "date_out_of_range:<col>": "a date before 1900 or after 2199",
    "unparseable_number:<col>": "not a number (or an ambiguous 1,234 / 1.234 in a mixed file)",
    "wrong_field_count": "the CSV line has more or fewer fields than the header",
    "zero_amount": "invoice or credit-note amount is 0",
    "negative_amount_on_invoice": "document_type is 'invoice' but the amount is negative",
    "positive_amount_on_credit_note": "document_type is 'credit_note' but the amount is positive",
    "unknown_document_type": f"document_type not one of {', '.join(DOCUMENT_TYPES)}",
    "invalid_currency": "currency is not a three-letter code",
    "bad_boolean:disputed": "disputed is not true/false/yes/no/y/n/1/0",
    "due_before_invoice": "due_date earlier than invoice_date",
    "paid_before_invoice": "paid_date earlier than invoice_date",
    "dispute_before_invoice": "dispute_date earlier than invoice_date",
    "writeoff_before_invoice": "written_off_date earlier than invoice_date",
    "duplicate_invoice_id": "invoice_id seen on an earlier row (the first one is kept)",
    "unknown_customer": "customer_id not among the accepted rows of the customers table",
    "duplicate_customer_id": "customer_id seen on an earlier row (the first one is kept)",
    "unknown_customer_type": f"customer_type not one of {', '.join(CUSTOMER_TYPES)}",
    "negative_credit_limit": "credit_limit below 0",
    "negative_payment_terms": "payment_terms_days below 0",
    "unknown_invoice": "invoice_id not among the accepted invoice rows",
    "customer_mismatch": "customer_id differs from the customer of the invoice",
    "non_positive_amount": "payment amount is 0 or negative",
    "payment_before_invoice": "payment_date earlier than the invoice's invoice_date",
    "duplicate_payment_id": "payment_id seen on an earlier row (the first one is kept)",
    "unknown_channel": f"channel not one of {', '.join(CHANNELS)}",
}
"""Every reason code with a plain-words meaning (``<col>`` is the column name)."""

_MIN_YEAR, _MAX_YEAR = 1900, 2199
_DELIMITERS = (",", ";", "\t", "|")
_SUFFIX_RANK = {".parquet": 0, ".pq": 0, ".csv": 1, ".csv.gz": 2, ".tsv": 3, ".xlsx": 4}
_IGNORED_FILES = {"truth": "evaluation-only file of the synthetic generator"}
_BOOL_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_BOOL_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0", ""})


class ContractError(Exception):
    """A file-level problem, or too many bad rows; ``str(e)`` is one human-readable line.

    Attributes:
        report: The validation report when the rows were read (bad-share limit), else None.
    """

    def __init__(self, message: str, *, report: ValidationReport | None = None) -> None:
        super().__init__(" ".join(str(message).split()))
        self.report = report


@dataclass
class ValidationReport:
    """Counts and notes of one validation run.

    ``rows_in`` counts source rows, ``rows_out`` rows in the validated table, ``quarantined``
    bad rows, ``derived`` rows made up by the loader (customers derived from invoices when
    the customers table is absent or empty). For every table:
    ``rows_in + derived == rows_out + quarantined``.
    """

    rows_in: dict[str, int] = field(default_factory=dict)
    rows_out: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    quarantine_files: dict[str, str] = field(default_factory=dict)
    derived: dict[str, int] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def bad_share(self, table: str = "invoices") -> float:
        """Share of a table's source rows that were quarantined (0.0 for an empty table)."""
        n = self.rows_in.get(table, 0)
        return self.quarantined.get(table, 0) / n if n else 0.0

    def top_reasons(self, table: str = "invoices", k: int = 3) -> list[tuple[str, int]]:
        """The ``k`` most frequent reasons of a table, as (reason, rows), largest first."""
        prefix = f"{table}:"
        items = [(r[len(prefix) :], n) for r, n in self.reasons.items() if r.startswith(prefix)]
        return sorted(items, key=lambda kv: (-kv[1], kv[0]))[:k]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the report, with the bad share per table added."""
        out = asdict(self)
        out["bad_share"] = {t: round(self.bad_share(t), 6) for t in self.rows_in}
        return out


@dataclass
class Dataset:
    """The validated tables of one data folder (see the module docstring for dtypes)."""

    customers: pd.DataFrame
    invoices: pd.DataFrame
    payments: pd.DataFrame
    reminders: pd.DataFrame
    report: ValidationReport
    quarantine: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The four tables by name."""
        return {
            "customers": self.customers,
            "invoices": self.invoices,
            "payments": self.payments,
            "reminders": self.reminders,
        }


class ValidatedFrames(NamedTuple):
    """Result of :func:`validate_frames`: clean tables, quarantined rows, report."""

    tables: dict[str, pd.DataFrame]
    """All four tables, always present (empty frames with the right columns if absent)."""
    quarantine: dict[str, pd.DataFrame]
    """Only the tables that have bad rows: original values as strings + ``_row``, ``_reason``."""
    report: ValidationReport

    def to_dataset(self) -> Dataset:
        """The same content as a :class:`Dataset`."""
        t = self.tables
        return Dataset(
            t["customers"],
            t["invoices"],
            t["payments"],
            t["reminders"],
            self.report,
            dict(self.quarantine),
        )


# ---------------------------------------------------------------------------- reading files


def _normalise_header(name: object) -> str:
    return re.sub(r"\s+", "_", str(name).replace("\ufeff", "").strip().lower())


def _split_suffix(name: str) -> tuple[str, str] | None:
    low = name.lower()
    for suffix in sorted(_SUFFIX_RANK, key=len, reverse=True):
        if low.endswith(suffix) and len(low) > len(suffix):
            return low[: -len(suffix)], suffix
    return None


def find_table_files(folder: str | Path) -> tuple[dict[str, Path], list[str]]:
    """Locate the contract files of a data folder.

    Names are matched case-insensitively as ``<table>.<csv|csv.gz|tsv|parquet|pq|xlsx>``.
    When a table exists in several formats the Parquet file wins (then CSV), with a note.

    Args:
        folder: The data folder.

    Returns:
        The file per table found, and notes (ignored files, format choices).

    Raises:
        ContractError: If the folder is missing or holds no invoices file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ContractError(f"{folder}: data folder not found")
    candidates: dict[str, list[tuple[int, Path]]] = {}
    notes: list[str] = []
    ignored: list[str] = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        split = _split_suffix(path.name)
        if split is None:
            continue
        stem, suffix = split
        if stem in TABLES:
            candidates.setdefault(stem, []).append((_SUFFIX_RANK[suffix], path))
        elif stem in _IGNORED_FILES:
            notes.append(f"{path.name} ignored ({_IGNORED_FILES[stem]})")
        else:
            ignored.append(path.name)
    if ignored:
        notes.append(f"files that are not contract tables ignored: {', '.join(ignored)}")
    files: dict[str, Path] = {}
    for table in TABLES:
        if table not in candidates:
            continue
        ranked = sorted(candidates[table], key=lambda rp: (rp[0], rp[1].name))
        files[table] = ranked[0][1]
        if len(ranked) > 1:
            others = ", ".join(p.name for _, p in ranked[1:])
            notes.append(f"{table}: using {ranked[0][1].name}, ignoring {others}")
    if "invoices" not in files:
        found = ", ".join(sorted(p.name for p in folder.iterdir() if p.is_file())) or "nothing"
        raise ContractError(
            f"{folder}: no invoices file (expected invoices.csv or invoices.parquet); "
            f"found: {found}"
        )
    return files, notes


def _decode(raw: bytes, name: str) -> tuple[str, list[str]]:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), [f"{name} read as UTF-16"]
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), [f"{name} is not UTF-8: read as latin-1 (Windows-1252)"]
    except UnicodeDecodeError:
        return raw.decode("latin-1"), [f"{name} is not UTF-8: read as latin-1 (ISO-8859-1)"]


def _sniff_delimiter(text: str) -> str:
    """The candidate delimiter that splits the header widest and the sample most evenly."""
    lines = [ln for ln in text.splitlines()[:64] if ln.strip()]
    best, best_score = ",", (-1.0, 0)
    for delim in _DELIMITERS:
        try:
            rows = [r for r in csv.reader(lines, delimiter=delim) if r]
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        body = rows[1:]
        even = sum(len(r) == width for r in body) / len(body) if body else 1.0
        score = (even, width)
        if score > best_score:
            best, best_score = delim, score
    return best


def _header_names(raw_header: list[str], name: str) -> list[str]:
    names = [_normalise_header(h) for h in raw_header]
    for i, h in enumerate(names):
        if not h:
            names[i] = f"unnamed_{i + 1}"
    seen: set[str] = set()
    for h in names:
        if h in seen:
            raise ContractError(f"{name}: column '{h}' appears more than once in the header")
        seen.add(h)
    return names


def _drop_empty_unnamed(frame: pd.DataFrame, name: str, notes: list[str]) -> pd.DataFrame:
    """Drop ``unnamed_*`` columns without any value (trailing delimiters), with a note."""
    empty = [
        c
        for c in frame.columns
        if c.startswith("unnamed_") and not frame[c].astype(str).str.strip().ne("").any()
    ]
    if empty:
        notes.append(f"{name}: dropped {len(empty)} empty column(s) without a header")
        frame = frame.drop(columns=empty)
    return frame


def _read_csv_text(text: str, name: str) -> tuple[pd.DataFrame, list[str]]:
    notes: list[str] = []
    delim = _sniff_delimiter(text)
    if delim != ",":
        notes.append(f"{name}: delimiter {delim!r}")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    errors: list[str] = []
    extras: list[str] = []
    blank = 0
    prev_line = 0
    try:
        for record in reader:
            start, prev_line = prev_line + 1, reader.line_num
            if not "".join(record).strip():
                blank += header is not None
                continue
            if header is None:
                header = _header_names(record, name)
                continue
            width = len(header)
            error = extra = ""
            fields = record
            if len(fields) > width:
                surplus = fields[width:]
                if any(f.strip() for f in surplus):
                    error, extra = "wrong_field_count", delim.join(surplus)
                fields = fields[:width]
            elif len(fields) < width:
                error = "wrong_field_count"
                fields = fields + [""] * (width - len(fields))
            rows.append(fields)
            lines.append(start)
            errors.append(error)
            extras.append(extra)
    except csv.Error as exc:
        raise ContractError(f"{name}: unreadable CSV near line {prev_line + 1}: {exc}") from None
    if header is None:
        return pd.DataFrame(), notes
    if blank:
        notes.append(f"{name}: skipped {blank} blank line(s)")
    frame = (
        pd.DataFrame(rows, columns=header, dtype=object)
        if rows
        else pd.DataFrame({h: pd.Series([], dtype=object) for h in header})
    )
    frame = frame.astype(str).apply(lambda s: s.str.strip())
    frame = _drop_empty_unnamed(frame, name, notes)
    frame[ROW_COL] = np.asarray(lines, dtype=np.int64)
    if any(errors):
        frame[READ_ERROR_COL] = pd.Series(errors, dtype=object).astype(str).to_numpy()
        frame[EXTRA_COL] = pd.Series(extras, dtype=object).astype(str).to_numpy()
        notes.append(f"{name}: {sum(bool(e) for e in errors)} line(s) with a wrong field count")
    return frame, notes


def read_table(file: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """Read one contract file.

    CSV (``.csv``, ``.csv.gz``, ``.tsv``): every value a stripped string (no NA guessing),
    headers stripped and lower-cased (inner whitespace becomes ``_``), delimiter sniffed
    among ``, ; TAB |``, UTF-8 (BOM or not) with a latin-1 fallback. Parquet keeps its
    typed columns. ``.xlsx`` (first sheet) is read as strings. The frame carries a ``_row``
    column (line number in the file, header = 1; Parquet: 1-based row position) and, when
    the reader found lines with a wrong field count, ``_read_error`` and ``_extra``.

    Args:
        file: The file to read.

    Returns:
        The frame (no rows if the file is empty or header-only) and notes.

    Raises:
        ContractError: If the file cannot be read, or has a duplicated column.
    """
    file = Path(file)
    name = file.name
    split = _split_suffix(name)
    suffix = split[1] if split else file.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return _read_parquet(file)
        if suffix == ".xlsx":
            return _read_xlsx(file)
        raw = gzip.decompress(file.read_bytes()) if suffix == ".csv.gz" else file.read_bytes()
    except ContractError:
        raise
    except Exception as exc:  # parquet/xlsx engines raise their own exception types
        raise ContractError(f"{name}: unreadable ({type(exc).__name__}: {exc})") from None
    if not raw.strip():
        return pd.DataFrame(), []
    text, notes = _decode(raw, name)
    frame, more = _read_csv_text(text, name)
    return frame, notes + more


def _read_parquet(file: Path) -> tuple[pd.DataFrame, list[str]]:
    frame = pd.read_parquet(file)
    frame.columns = _header_names(list(frame.columns), file.name)
    frame = frame.reset_index(drop=True)
    frame[ROW_COL] = np.arange(1, len(frame) + 1, dtype=np.int64)
    return frame, []


def _read_xlsx(file: Path) -> tuple[pd.DataFrame, list[str]]:
    frame = pd.read_excel(
        file,
        sheet_name=0,
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        header=None,
        engine="openpyxl",
    )
    notes = [f"{file.name}: read the first sheet"]
    frame = frame.astype(str).apply(lambda s: s.str.strip())
    nonblank = frame.apply(lambda s: s.ne("")).any(axis=1).to_numpy()
    if not nonblank.any():
        return pd.DataFrame(), notes
    first = int(np.flatnonzero(nonblank)[0])
    header = _header_names(frame.iloc[first].tolist(), file.name)
    body = frame.iloc[first + 1 :]
    keep = nonblank[first + 1 :]
    if (~keep).any():
        notes.append(f"{file.name}: skipped {int((~keep).sum())} blank row(s)")
    out = pd.DataFrame(body.to_numpy()[keep], columns=header).astype(str)
    out = _drop_empty_unnamed(out, file.name, notes)
    out[ROW_COL] = (np.flatnonzero(keep) + first + 2).astype(np.int64)
    return out, notes


# ------------------------------------------------------------------------- value parsing


def _fmt_scalar(x: object) -> str:  # noqa: PLR0911 - one branch per value kind
    """One value as contract text ('' for missing; integral floats without '.0')."""
    if x is None or x is pd.NA or x is pd.NaT:
        return ""
    if isinstance(x, str):
        return x.strip()
    if isinstance(x, bool | np.bool_):
        return "true" if x else "false"
    if isinstance(x, float | np.floating):
        f = float(x)
        if math.isnan(f):
            return ""
        return str(int(f)) if f.is_integer() and abs(f) < 1e15 else repr(f)
    if isinstance(x, dt.datetime):
        return x.isoformat(sep=" ")
    if isinstance(x, Decimal) and x.is_nan():
        return ""
    return str(x).strip()


def _to_text(s: pd.Series) -> pd.Series:
    """A column as stripped strings with '' for missing, whatever its dtype."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        out = s.dt.strftime("%Y-%m-%d %H:%M:%S").astype(object).where(s.notna(), "")
    elif isinstance(s.dtype, pd.StringDtype):
        out = s.astype(object).where(s.notna(), "")
    else:
        out = pd.Series([_fmt_scalar(x) for x in s.tolist()], index=s.index, dtype=object)
    return out.astype(str).str.strip()


_DATE_RE = (
    r"^(?:(?P<y>\d{4})(?P<sep>[-/.])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})"
    r"(?:[T ](?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:[.,]\d{1,9})?)?"
    r" ?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
    r"|(?P<y2>\d{4})(?P<m2>\d{2})(?P<d2>\d{2}))$"
)


_DATE_PATTERN = re.compile(_DATE_RE)


def _ymd(value: str) -> str | None:
    """``yyyymmdd`` of an accepted date text, None when the layout is not accepted."""
    match = _DATE_PATTERN.match(value)
    if match is None:
        return None
    g = match.groupdict()
    year, month, day = g["y"] or g["y2"], g["m"] or g["m2"], g["d"] or g["d2"]
    return f"{year}{int(month):02d}{int(day):02d}"


def _parse_dates(orig: pd.Series, text: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Parse a date column.

    Returns:
        Dates at midnight (``datetime64[us]``, NaT when missing or bad), the unparseable
        mask and the out-of-range mask.
    """
    if pd.api.types.is_datetime64_any_dtype(orig.dtype):
        values = orig
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_localize(None)
        values = values.dt.normalize()
        unparseable = far = np.zeros(len(values), dtype=bool)
    else:
        # Fast vectorised path for plain ISO dates; only the other values see the regex.
        filled = text.ne("").to_numpy(bool)
        values = pd.to_datetime(text.where(filled), format="%Y-%m-%d", errors="coerce")
        values = values.astype(DATE_DTYPE)
        rest = filled & values.isna().to_numpy(bool)
        far = np.zeros(len(text), dtype=bool)  # accepted layout, year out of range
        if rest.any():
            ymd = [_ymd(v) for v in text[rest].tolist()]
            years = np.array([int(x[:4]) if x else _MIN_YEAR for x in ymd])
            far[rest] = (years < _MIN_YEAR) | (years > _MAX_YEAR)
            ymd = [None if f else x for x, f in zip(ymd, far[rest], strict=True)]
            slow = pd.to_datetime(pd.Series(ymd, dtype=object), format="%Y%m%d", errors="coerce")
            values[rest] = slow.astype(DATE_DTYPE).to_numpy()
        unparseable = filled & values.isna().to_numpy(bool) & ~far
    year = values.dt.year
    out_of_range = (values.notna() & ((year < _MIN_YEAR) | (year > _MAX_YEAR))).to_numpy(bool)
    out_of_range = out_of_range | far
    values = values.where(~out_of_range)
    return values.astype(DATE_DTYPE).reset_index(drop=True), unparseable, out_of_range


_NUM_BODY = r"[0-9.,]*[0-9](?:[eE][+-]?[0-9]+)?"
_NUM_RE = rf"[+-]?{_NUM_BODY}|{_NUM_BODY}-|\({_NUM_BODY}\)"
_GROUP_SPACE = re.compile(r"(?<=\d)[ \u00a0\u202f'](?=\d{3}(?!\d))")
_NUM_CLASSES = {
    "amb_dot": r"\d{1,3}\.\d{3}",
    "amb_comma": r"\d{1,3},\d{3}",
    "int": r"\d+",
    "point": r"\d*\.\d+|\d+(?:\.\d+)?[eE][+-]?\d+",
    "group_comma": r"\d{1,3}(?:,\d{3})+(?:\.\d+)?",
    "group_dot": r"\d{1,3}(?:\.\d{3})+(?:,\d+)?",
    "dec_comma": r"\d*,\d+",
}


@dataclass
class _NumberCells:
    """A text column split into sign, body and format class, before the table's convention."""

    text: pd.Series
    body: pd.Series
    negative: np.ndarray
    cls: dict[str, np.ndarray]
    typed: pd.Series | None = None

    @property
    def point_evidence(self) -> bool:
        c = self.cls
        return bool((c["point"] | c["group_comma"]).any()) if self.typed is None else False

    @property
    def comma_evidence(self) -> bool:
        c = self.cls
        return bool((c["group_dot"] | c["dec_comma"]).any()) if self.typed is None else False


def _classify_numbers(orig: pd.Series, text: pd.Series) -> _NumberCells:
    n = len(text)
    if pd.api.types.is_numeric_dtype(orig.dtype) and not pd.api.types.is_bool_dtype(orig.dtype):
        typed = pd.Series(pd.to_numeric(orig, errors="coerce"), dtype="float64")
        return _NumberCells(text, text, np.zeros(n, bool), {}, typed.reset_index(drop=True))
    cleaned = text
    spaced = text.str.contains("\\d[ \u00a0\u202f']\\d", regex=True).to_numpy(bool)
    if spaced.any():  # thousand groups split by blanks or apostrophes: 1 234 567,89
        cleaned = text.copy()
        cleaned[spaced] = [_GROUP_SPACE.sub("", v) for v in text[spaced]]
    ok = cleaned.str.fullmatch(_NUM_RE).fillna(False).to_numpy(bool)
    signs = cleaned.str.startswith("-") | cleaned.str.endswith("-") | cleaned.str.startswith("(")
    negative = ok & signs.fillna(False).to_numpy(bool)
    body = cleaned.str.replace(r"^[+(-]|[)-]$", "", regex=True).where(ok, "").astype(str)
    cls = {
        k: body.str.fullmatch(rx).fillna(False).to_numpy(bool) for k, rx in _NUM_CLASSES.items()
    }
    ambiguous = cls["amb_dot"] | cls["amb_comma"]
    for k in ("point", "group_comma", "group_dot", "dec_comma"):
        cls[k] = cls[k] & ~ambiguous
    return _NumberCells(text.reset_index(drop=True), body.reset_index(drop=True), negative, cls)


def _resolve_numbers(cells: _NumberCells, convention: str | None) -> tuple[pd.Series, np.ndarray]:
    """Numbers of a classified column under the table's convention ('point'/'comma'/None)."""
    if cells.typed is not None:
        values = cells.typed
        bad = (values.notna() & ~np.isfinite(values.fillna(0.0))).to_numpy(bool)
        return values.where(~bad), bad
    c, body = cells.cls, cells.body
    canon = pd.Series(np.full(len(body), None, dtype=object))
    plain = c["int"] | c["point"]
    canon[plain] = body[plain]
    canon[c["group_comma"]] = body[c["group_comma"]].str.replace(",", "", regex=False)
    gd = c["group_dot"]
    canon[gd] = body[gd].str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    canon[c["dec_comma"]] = body[c["dec_comma"]].str.replace(",", ".", regex=False)
    if convention != "mixed":
        comma = convention == "comma"
        ad, ac = c["amb_dot"], c["amb_comma"]
        canon[ad] = body[ad].str.replace(".", "", regex=False) if comma else body[ad]
        canon[ac] = body[ac].str.replace(",", "." if comma else "", regex=False)
    values = pd.Series(pd.to_numeric(canon, errors="coerce"), dtype="float64")
    values = values.where(~cells.negative, -values)
    bad = cells.text.ne("").to_numpy(bool) & values.isna().to_numpy(bool)
    return values, bad


def _parse_number_columns(
    orig: pd.DataFrame, text: pd.DataFrame, cols: list[str], table: str, notes: list[str]
) -> dict[str, tuple[pd.Series, np.ndarray]]:
    """Parse a table's number columns under one decimal convention (see module docstring)."""
    cells = {c: _classify_numbers(orig[c], text[c]) for c in cols}
    point = any(x.point_evidence for x in cells.values())
    comma = any(x.comma_evidence for x in cells.values())
    convention = "mixed" if point and comma else "comma" if comma else "point" if point else None
    n_ambiguous = sum(
        int((x.cls["amb_dot"] | x.cls["amb_comma"]).sum())
        for x in cells.values()
        if x.typed is None
    )
    if comma and not point:
        notes.append(f"{table}: numbers use a decimal comma (e.g. 1.234,50 = 1234.5)")
    elif convention == "mixed":
        notes.append(
            f"{table}: numbers mix decimal comma and decimal point; "
            f"{n_ambiguous} ambiguous value(s) like 1,234 quarantined"
        )
    elif n_ambiguous:
        notes.append(
            f"{table}: {n_ambiguous} ambiguous number(s) like 1,234 / 1.234 read as "
            "1234 / 1.234 (no decimal-comma values elsewhere in the table)"
        )
    return {c: _resolve_numbers(x, convention) for c, x in cells.items()}


def _parse_booleans(text: pd.Series) -> tuple[pd.Series, np.ndarray]:
    low = text.str.lower()
    values = low.isin(_BOOL_TRUE).to_numpy(bool)
    bad = ~(values | low.isin(_BOOL_FALSE).to_numpy(bool))
    return pd.Series(values, dtype=bool), bad


def _token(text: pd.Series) -> pd.Series:
    """Lower-case, inner blanks and dashes as '_' (``Sole Trader`` -> ``sole_trader``)."""
    return text.str.lower().str.replace(r"[\s\-]+", "_", regex=True)


def _na(text: pd.Series) -> pd.Series:
    """Text with '' as missing."""
    return text.where(text.ne(""))


# ------------------------------------------------------------------------ rules (pandera)


_Check = tuple[str, Callable[[Any], pd.Series]]


def _pandera() -> Any:
    import warnings

    with warnings.catch_warnings():
        # pandera imports pyspark.pandas when installed, which warns about pandas 3.
        warnings.filterwarnings("ignore", category=FutureWarning)
        import pandera.pandas as pa
    return pa


def _run_rules(
    table: str,
    frame: pd.DataFrame,
    column_checks: Mapping[str, list[_Check]],
    frame_checks: list[_Check],
    dtypes: Mapping[str, str] | None = None,
) -> dict[str, np.ndarray]:
    """Run named checks through a pandera schema; a row mask per check name.

    Each check is NA-safe (returns True where its inputs are missing: those rows are
    already flagged by the parser), so a row fails a check only for the rule it names.
    """
    pa = _pandera()
    dtypes = dtypes or {}
    columns = {
        col: pa.Column(
            dtypes.get(col),
            nullable=True,
            checks=[pa.Check(fn, name=name, ignore_na=False) for name, fn in checks],
        )
        for col, checks in column_checks.items()
    }
    schema = pa.DataFrameSchema(
        columns,
        checks=[pa.Check(fn, name=name, ignore_na=False) for name, fn in frame_checks],
        name=table,
    )
    names = [name for checks in column_checks.values() for name, _ in checks]
    names += [name for name, _ in frame_checks]
    masks = {name: np.zeros(len(frame), dtype=bool) for name in names}
    try:
        schema.validate(frame, lazy=True)
    except (pa.errors.SchemaErrors, pa.errors.SchemaError) as exc:
        cases = getattr(exc, "failure_cases", None)
        if cases is None or not isinstance(cases, pd.DataFrame):
            raise RuntimeError(f"{table}: validation schema failed: {exc}") from None
        known = cases["check"].isin(names) & cases["index"].notna()
        if not known.all():
            odd = cases.loc[~known, ["column", "check"]].drop_duplicates().to_dict("records")
            raise RuntimeError(f"{table}: unexpected validation failure {odd}") from None
        for name, grp in cases.groupby("check"):
            masks[str(name)][grp["index"].astype(np.int64).unique()] = True
    return masks


def _not_dup(s: pd.Series) -> pd.Series:
    return ~(s.duplicated(keep="first") & s.notna())


def _in(values: Any) -> Callable[[pd.Series], pd.Series]:
    allowed = pd.Index(pd.unique(pd.Series(list(values), dtype=object)))

    def check(s: pd.Series) -> pd.Series:
        return s.isin(allowed) | s.isna()

    return check


def _not_before(later: str, earlier: str) -> Callable[[pd.DataFrame], pd.Series]:
    def check(df: pd.DataFrame) -> pd.Series:
        return ~(df[later] < df[earlier]).fillna(False).astype(bool)

    return check


# --------------------------------------------------------------------- table validation


@dataclass
class _Table:
    """A source table prepared for validation: original values, text view, row numbers."""

    name: str
    source: str
    orig: pd.DataFrame
    text: pd.DataFrame
    rows: np.ndarray
    read_errors: np.ndarray
    extras: pd.Series | None

    def __len__(self) -> int:
        return len(self.text)

    def has(self, col: str) -> bool:
        return col in self.text.columns

    def col(self, col: str) -> pd.Series:
        """Text of a column; all '' when the column is absent."""
        if col in self.text.columns:
            return self.text[col]
        return pd.Series([""] * len(self.text), dtype=object).astype(str)


@dataclass
class _Outcome:
    clean: pd.DataFrame
    quarantine: pd.DataFrame | None
    reasons: dict[str, int]
    good: np.ndarray


def _prepare(
    name: str,
    frame: pd.DataFrame,
    *,
    source: str,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    notes: list[str],
) -> _Table:
    frame = frame.reset_index(drop=True)
    frame.columns = _header_names(list(frame.columns), source)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        found = ", ".join(c for c in frame.columns if c not in _HELPER_COLS) or "(none)"
        raise ContractError(
            f"{source}: missing required column(s) {', '.join(missing)}; found: {found}"
        )
    if ROW_COL in frame.columns:
        rows = pd.to_numeric(frame[ROW_COL], errors="coerce").to_numpy()
        if np.isnan(rows.astype(float)).any():
            rows = np.arange(1, len(frame) + 1)
        rows = rows.astype(np.int64)
    else:
        rows = np.arange(1, len(frame) + 1, dtype=np.int64)
    read_errors = np.zeros(len(frame), dtype=bool)
    if READ_ERROR_COL in frame.columns:
        read_errors = _to_text(frame[READ_ERROR_COL]).ne("").to_numpy(bool)
    extras = _to_text(frame[EXTRA_COL]) if EXTRA_COL in frame.columns else None
    data_cols = [c for c in frame.columns if c not in _HELPER_COLS]
    orig = frame[data_cols]
    text = pd.DataFrame({c: _to_text(orig[c]) for c in data_cols}, index=orig.index)
    unknown = [c for c in data_cols if c not in required and c not in optional]
    if unknown:
        notes.append(f"{name}: columns not in the contract ignored: {', '.join(unknown)}")
    return _Table(name, source, orig, text, rows, read_errors, extras)


def _finish(tbl: _Table, masks: dict[str, np.ndarray], clean: pd.DataFrame) -> _Outcome:
    """Split rows into clean and quarantined; reason strings in rule order."""
    n = len(tbl)
    names = [k for k, m in masks.items() if m.any()]
    matrix = np.column_stack([masks[k] for k in names]) if names else np.zeros((n, 0), dtype=bool)
    bad = matrix.any(axis=1)
    good = ~bad
    reasons = {k: int(masks[k].sum()) for k in names}
    quarantine = None
    if bad.any():
        labels = np.asarray(names, dtype=object)
        reason_text = [";".join(labels[row]) for row in matrix[bad]]
        q = tbl.text.loc[bad].reset_index(drop=True)
        q.insert(0, REASON_COL, pd.Series(reason_text, dtype=object).astype(str))
        q.insert(0, ROW_COL, tbl.rows[bad])
        if tbl.extras is not None:
            q[EXTRA_COL] = tbl.extras.loc[bad].reset_index(drop=True)
        quarantine = q
    return _Outcome(clean.loc[good].reset_index(drop=True), quarantine, reasons, good)


def _base_masks(tbl: _Table, required: tuple[str, ...]) -> dict[str, np.ndarray]:
    masks: dict[str, np.ndarray] = {}
    if tbl.read_errors.any():
        masks["wrong_field_count"] = tbl.read_errors
    for col in required:
        masks[f"missing_value:{col}"] = tbl.text[col].eq("").to_numpy(bool)
    return masks


def _add_dates(
    tbl: _Table, cols: tuple[str, ...], masks: dict[str, np.ndarray]
) -> dict[str, pd.Series]:
    out: dict[str, pd.Series] = {}
    for col in cols:
        if not tbl.has(col):
            out[col] = pd.Series(pd.NaT, index=range(len(tbl)), dtype=DATE_DTYPE)
            continue
        values, unparseable, out_of_range = _parse_dates(tbl.orig[col], tbl.text[col])
        masks[f"unparseable_date:{col}"] = unparseable
        masks[f"date_out_of_range:{col}"] = out_of_range
        out[col] = values
    return out


def _add_numbers(
    tbl: _Table, cols: tuple[str, ...], masks: dict[str, np.ndarray], notes: list[str]
) -> dict[str, pd.Series]:
    present = [c for c in cols if tbl.has(c)]
    parsed = _parse_number_columns(tbl.orig, tbl.text, present, tbl.name, notes)
    out: dict[str, pd.Series] = {}
    for col in cols:
        if col in parsed:
            out[col], masks[f"unparseable_number:{col}"] = parsed[col]
        else:
            out[col] = pd.Series(np.nan, index=range(len(tbl)), dtype="float64")
    return out


def _str_col(text: pd.Series, default: str | None = None) -> pd.Series:
    """Output string column: '' -> default (or NA when no default)."""
    if default is not None:
        return text.where(text.ne(""), default).astype(str).reset_index(drop=True)
    return _na(text).reset_index(drop=True)


def _validate_customers(tbl: _Table, notes: list[str]) -> _Outcome:
    masks = _base_masks(tbl, CUSTOMER_REQUIRED)
    dates = _add_dates(tbl, ("created_date",), masks)
    nums = _add_numbers(tbl, ("payment_terms_days", "credit_limit"), masks, notes)
    ctype = _token(tbl.col("customer_type"))
    ctype = ctype.where(ctype.ne(""), "company")
    typed = pd.DataFrame(
        {
            "customer_id": _na(tbl.text["customer_id"]).reset_index(drop=True),
            "customer_type": ctype.reset_index(drop=True),
            "payment_terms_days": nums["payment_terms_days"],
            "credit_limit": nums["credit_limit"],
        }
    )
    masks.update(
        _run_rules(
            "customers",
            typed,
            {
                "customer_id": [("duplicate_customer_id", _not_dup)],
                "customer_type": [("unknown_customer_type", _in(CUSTOMER_TYPES))],
                "credit_limit": [("negative_credit_limit", lambda s: ~(s < 0))],
                "payment_terms_days": [("negative_payment_terms", lambda s: ~(s < 0))],
            },
            [],
            {"credit_limit": "float64", "payment_terms_days": "float64"},
        )
    )
    clean = pd.DataFrame(
        {
            "customer_id": typed["customer_id"].astype(str),
            "customer_type": typed["customer_type"].astype(str),
            "industry": _str_col(tbl.col("industry"), "unknown"),
            "country": _str_col(tbl.col("country"), "unknown"),
            "payment_terms_days": nums["payment_terms_days"],
            "credit_limit": nums["credit_limit"],
            "created_date": dates["created_date"],
        }
    )
    for col in sorted(PII_COLUMNS & set(tbl.text.columns)):
        clean[col] = _str_col(tbl.text[col])
    return _finish(tbl, masks, clean)


def _validate_invoices(
    tbl: _Table, customer_ids: pd.Index | None, default_currency: str, notes: list[str]
) -> _Outcome:
    masks = _base_masks(tbl, INVOICE_REQUIRED)
    date_cols = ("invoice_date", "due_date", "paid_date", "dispute_date", "written_off_date")
    dates = _add_dates(tbl, date_cols, masks)
    nums = _add_numbers(tbl, ("amount", "paid_amount"), masks, notes)
    amount = nums["amount"]
    inferred = pd.Series(np.where(amount < 0, "credit_note", "invoice"), dtype=object)
    doc = _token(tbl.col("document_type")).reset_index(drop=True)
    doc = doc.where(doc.ne(""), inferred)
    currency = tbl.col("currency").str.upper().reset_index(drop=True)
    currency = currency.where(currency.ne(""), default_currency)
    disputed, bad_bool = _parse_booleans(tbl.col("disputed").reset_index(drop=True))
    if tbl.has("disputed"):
        masks["bad_boolean:disputed"] = bad_bool
    disputed = disputed | (
        tbl.col("disputed").eq("").to_numpy(bool) & dates["dispute_date"].notna().to_numpy(bool)
    )
    typed = pd.DataFrame(
        {
            "invoice_id": _na(tbl.text["invoice_id"]).reset_index(drop=True),
            "customer_id": _na(tbl.text["customer_id"]).reset_index(drop=True),
            "document_type": doc.astype(str),
            "amount": amount,
            "currency": currency.astype(str),
            **dates,
        }
    )
    id_checks: list[_Check] = [("duplicate_invoice_id", _not_dup)]
    customer_checks: list[_Check] = []
    if customer_ids is not None:
        customer_checks.append(("unknown_customer", _in(customer_ids)))

    def sign_rule(kind: str, wrong: Callable[[pd.Series], pd.Series]) -> Callable:
        def check(df: pd.DataFrame) -> pd.Series:
            return ~((df["document_type"] == kind) & wrong(df["amount"]).fillna(False))

        return check

    masks.update(
        _run_rules(
            "invoices",
            typed,
            {
                "invoice_id": id_checks,
                "customer_id": customer_checks,
                "document_type": [("unknown_document_type", _in(DOCUMENT_TYPES))],
                "currency": [
                    (
                        "invalid_currency",
                        lambda s: s.str.fullmatch(r"[A-Z]{3}").fillna(False).astype(bool),
                    )
                ],
                "amount": [("zero_amount", lambda s: ~(s == 0))],
                "invoice_date": [],
                "due_date": [],
            },
            [
                ("negative_amount_on_invoice", sign_rule("invoice", lambda a: a < 0)),
                ("positive_amount_on_credit_note", sign_rule("credit_note", lambda a: a > 0)),
                ("due_before_invoice", _not_before("due_date", "invoice_date")),
                ("paid_before_invoice", _not_before("paid_date", "invoice_date")),
                ("dispute_before_invoice", _not_before("dispute_date", "invoice_date")),
                ("writeoff_before_invoice", _not_before("written_off_date", "invoice_date")),
            ],
            {"amount": "float64", "invoice_date": DATE_DTYPE, "due_date": DATE_DTYPE},
        )
    )
    clean = pd.DataFrame(
        {
            "invoice_id": typed["invoice_id"].astype(str),
            "customer_id": typed["customer_id"].astype(str),
            "document_type": typed["document_type"],
            "invoice_date": dates["invoice_date"],
            "due_date": dates["due_date"],
            "amount": amount,
            "currency": typed["currency"],
            "paid_date": dates["paid_date"],
            "paid_amount": nums["paid_amount"],
            "disputed": pd.Series(disputed, dtype=bool),
            "dispute_date": dates["dispute_date"],
            "written_off_date": dates["written_off_date"],
        }
    )
    return _finish(tbl, masks, clean)


def _invoice_links(invoices: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """customer_id and invoice_date per accepted invoice_id."""
    idx = pd.Index(invoices["invoice_id"].astype(object))
    return (
        pd.Series(invoices["customer_id"].to_numpy(object), index=idx),
        pd.Series(invoices["invoice_date"].to_numpy(), index=idx),
    )


def _coalesce(first: pd.Series, *others: pd.Series | str) -> pd.Series:
    """First non-missing value per row (object dtype; no silent downcasting)."""
    out = first.to_numpy(dtype=object)
    for other in others:
        fill = other.to_numpy(dtype=object) if isinstance(other, pd.Series) else other
        out = np.where(pd.isna(out), fill, out)
    return pd.Series(out, dtype=object)


def _linked_customer(tbl: _Table, inv_customer: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(given customer_id or NA, customer_id of the referenced invoice or NA)."""
    given = _na(tbl.col("customer_id")).reset_index(drop=True).astype(object)
    via = pd.Series(tbl.text["invoice_id"].map(inv_customer).to_numpy(object), dtype=object)
    return given, via


def _mismatch_check(df: pd.DataFrame) -> pd.Series:
    both = df["customer_id"].notna() & df["invoice_customer"].notna()
    return ~(both & (df["customer_id"] != df["invoice_customer"]))


def _validate_payments(tbl: _Table, invoices: pd.DataFrame, notes: list[str]) -> _Outcome:
    masks = _base_masks(tbl, PAYMENT_REQUIRED)
    dates = _add_dates(tbl, ("payment_date",), masks)
    nums = _add_numbers(tbl, ("amount",), masks, notes)
    inv_customer, inv_date = _invoice_links(invoices)
    given, via = _linked_customer(tbl, inv_customer)
    payment_id = _na(tbl.col("payment_id")).reset_index(drop=True).astype(object)
    typed = pd.DataFrame(
        {
            "payment_id": payment_id,
            "invoice_id": _na(tbl.text["invoice_id"]).reset_index(drop=True).astype(object),
            "customer_id": given,
            "invoice_customer": via,
            "payment_date": dates["payment_date"],
            "invoice_date": pd.Series(
                tbl.text["invoice_id"].map(inv_date).to_numpy(), dtype=DATE_DTYPE
            ),
            "amount": nums["amount"],
        }
    )
    masks.update(
        _run_rules(
            "payments",
            typed,
            {
                "payment_id": [("duplicate_payment_id", _not_dup)],
                "invoice_id": [("unknown_invoice", _in(inv_customer.index))],
                "amount": [("non_positive_amount", lambda s: ~(s <= 0))],
            },
            [
                ("customer_mismatch", _mismatch_check),
                ("payment_before_invoice", _not_before("payment_date", "invoice_date")),
            ],
            {"amount": "float64"},
        )
    )
    generated = pd.Series([f"{tbl.name}-row-{r}" for r in tbl.rows], dtype=object)
    clean = pd.DataFrame(
        {
            "payment_id": _coalesce(payment_id, generated).astype(str),
            "invoice_id": tbl.text["invoice_id"].reset_index(drop=True).astype(str),
            "customer_id": _coalesce(given, via, "").astype(str),
            "payment_date": dates["payment_date"],
            "amount": nums["amount"],
        }
    )
    if not tbl.has("payment_id"):
        notes.append("payments: no payment_id column: ids generated as payments-row-<line>")
    return _finish(tbl, masks, clean)


def _validate_reminders(tbl: _Table, invoices: pd.DataFrame, notes: list[str]) -> _Outcome:
    masks = _base_masks(tbl, REMINDER_REQUIRED)
    dates = _add_dates(tbl, ("sent_date",), masks)
    inv_customer, _ = _invoice_links(invoices)
    given, via = _linked_customer(tbl, inv_customer)
    channel = tbl.text["channel"].str.lower().str.replace(r"[\s\-_]+", "", regex=True)
    channel = _na(channel).reset_index(drop=True).astype(object)
    typed = pd.DataFrame(
        {
            "invoice_id": _na(tbl.text["invoice_id"]).reset_index(drop=True).astype(object),
            "customer_id": given,
            "invoice_customer": via,
            "channel": channel,
        }
    )
    masks.update(
        _run_rules(
            "reminders",
            typed,
            {
                "invoice_id": [("unknown_invoice", _in(inv_customer.index))],
                "channel": [("unknown_channel", _in(CHANNELS))],
            },
            [("customer_mismatch", _mismatch_check)],
        )
    )
    clean = pd.DataFrame(
        {
            "invoice_id": tbl.text["invoice_id"].reset_index(drop=True).astype(str),
            "customer_id": _coalesce(given, via, "").astype(str),
            "sent_date": dates["sent_date"],
            "channel": _coalesce(channel, "").astype(str),
            "outcome": _str_col(tbl.col("outcome")),
        }
    )
    return _finish(tbl, masks, clean)


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


_SPECS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "customers": (CUSTOMER_REQUIRED, CUSTOMER_OPTIONAL),
    "invoices": (INVOICE_REQUIRED, INVOICE_OPTIONAL),
    "payments": (PAYMENT_REQUIRED, PAYMENT_OPTIONAL),
    "reminders": (REMINDER_REQUIRED, REMINDER_OPTIONAL),
}
_COLUMNS = {
    "customers": CUSTOMER_COLUMNS,
    "invoices": INVOICE_COLUMNS,
    "payments": PAYMENT_COLUMNS,
    "reminders": REMINDER_COLUMNS,
}


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
    unknown_tables = sorted(set(tables) - set(TABLES))
    if unknown_tables:
        notes.append(f"tables not in the contract ignored: {', '.join(unknown_tables)}")
    present: dict[str, _Table] = {}
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
        required, optional = _SPECS[name]
        present[name] = _prepare(
            name, frame, source=source, required=required, optional=optional, notes=notes
        )

    outcomes: dict[str, _Outcome] = {}
    customer_ids: pd.Index | None = None
    if "customers" in present:
        outcomes["customers"] = _validate_customers(present["customers"], notes)
        customer_ids = pd.Index(outcomes["customers"].clean["customer_id"].astype(object))
    outcomes["invoices"] = _validate_invoices(
        present["invoices"], customer_ids, default_currency, notes
    )
    invoices = outcomes["invoices"].clean
    report = ValidationReport(sources={k: v for k, v in sources.items() if k in present})
    if "customers" not in present:
        derived = _derive_customers(invoices)
        outcomes["customers"] = _Outcome(derived, None, {}, np.ones(0, bool))
        report.derived["customers"] = len(derived)
        notes.append(f"customers table absent: derived {len(derived)} customers from invoices")
    if "payments" in present:
        outcomes["payments"] = _validate_payments(present["payments"], invoices, notes)
    if "reminders" in present:
        outcomes["reminders"] = _validate_reminders(present["reminders"], invoices, notes)

    clean: dict[str, pd.DataFrame] = {}
    quarantine: dict[str, pd.DataFrame] = {}
    for name in TABLES:
        out = outcomes.get(name)
        clean[name] = out.clean if out is not None else _empty_frame(_COLUMNS[name])
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
    report.notes = notes
    return ValidatedFrames(clean, quarantine, report)


# ------------------------------------------------------------------------------- loading


def _write_quarantine(
    directory: Path, quarantine: Mapping[str, pd.DataFrame], report: ValidationReport
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        path = directory / f"{name}.csv"
        if name in quarantine:
            quarantine[name].to_csv(path, index=False, lineterminator="\n")
            report.quarantine_files[name] = str(path)
        elif path.is_file():
            path.unlink()  # a stale file from an earlier run would read as current errors
    (directory / "report.json").write_text(
        json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def _log_report(report: ValidationReport) -> None:
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
        _write_quarantine(Path(quarantine_dir), result.quarantine, report)
    _log_report(report)
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
