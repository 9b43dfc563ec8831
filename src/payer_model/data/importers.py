"""Importers: map a foreign export (ERP line items, accounting CSV, spreadsheet) onto the contract.

A mapping (YAML, validated by :class:`Mapping`) says which source column feeds which contract
column and how to read it. :func:`import_export` reads the source with the contract's reader
(:func:`payer_model.data.contract.read_table`: CSV with sniffed delimiter and encoding, Parquet,
``.xlsx``), applies the mapping, parses the source's own date formats into ISO dates, derives
what the source lacks (customers, paid dates from days late, open flags), then runs the
contract's validation (:func:`payer_model.data.contract.validate_frames`) on the result. It writes

* ``<out>/invoices.csv`` and ``<out>/customers.csv``: clean contract tables;
* ``<out>/_import_quarantine/<table>.csv``: every source row that was not imported, with its
  original values, ``_row`` (line in the source file), ``_reason`` and ``_stage``;
* ``<out>/import_report.json``: the :class:`ImportReport`.

Mapping file::

    invoices:
      file: ar_items.csv                   # optional: relative to SRC (a file's folder or SRC)
      columns:
        invoice_id: DocumentNo             # source column
        customer_id: CustomerNo
        invoice_date: {column: PostingDate, format: "%d.%m.%Y"}
        due_date: {column: NetDueDate, format: "%Y%m%d"}   # 20190326 and 20190326.0 accepted
        amount: {column: AmountDocCurr, decimal: ",", thousands: "."}
        paid_date: {column: ClearingDate, format: "%Y-%m-%d %H:%M:%S"}
        currency: DocCurrency
        open_flag: {column: Status, true_values: [open, X]}   # derived: open => no paid date
      constants: {customer_type: company}
      dedupe: true                         # drop exact duplicate rows, report how many
    customers:                             # optional; derived from invoices when absent
      columns: {customer_id: CustomerNo, name: CustomerName}

A source column may be a list of alternative names (the first one present is used) and a
column spec may say ``optional: true`` (absent => the target is left out). Besides the
contract columns, the invoices table accepts customer columns (``country``, ``name``, ...:
they build the customers table when no customers mapping is given) and derived inputs:
``open_flag``, ``days_late`` (paid = due + days late), ``days_to_settle`` (paid = invoice +
days), ``baseline_date`` and ``terms_days`` (due = baseline or invoice date + terms, when the
due date is missing) and ``credit_flag`` (SAP debit/credit indicator: ``H`` negates amounts).

Date formats: a ``format`` is a ``strptime`` pattern, ``yyyymmdd`` (or ``%Y%m%d``: integers
and floats like ``20190326.0`` accepted) or ``excel`` (serial day numbers). Without one the
column's format is detected from its values (ISO, ``yyyymmdd``, Excel serials, ``d.m.Y``,
``m/d/Y``, ``d/m/Y``, ...); a column where ``m/d/Y`` and ``d/m/Y`` fit equally well is an
error asking for a format. When most values of a column fail its format the import stops
with a :class:`MappingError` naming the column, the format and a sample value; isolated bad
values are quarantined as ``unparseable_date:<column>``.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from payer_model.data.schema import (
    CUSTOMER_OPTIONAL,
    CUSTOMER_REQUIRED,
    DEFAULT_CURRENCY,
    INVOICE_OPTIONAL,
    INVOICE_REQUIRED,
)

logger = logging.getLogger(__name__)

__all__ = [
    "PRESETS",
    "ColumnSpec",
    "ImportReport",
    "Mapping",
    "MappingError",
    "TableMapping",
    "import_export",
    "load_mapping",
    "load_preset",
]

PRESETS: tuple[str, ...] = ("ibm-ar", "erp-line-items", "generic-ar")
"""Mapping presets shipped in ``payer_model/data/presets/<name>.yaml``."""

ROW_COL, REASON_COL, STAGE_COL = "_row", "_reason", "_stage"
READ_ERROR_COL, EXTRA_COL = "_read_error", "_extra"
QUARANTINE_DIR = "_import_quarantine"
REPORT_FILE = "import_report.json"

_DERIVED_INPUTS = (
    "open_flag",
    "days_late",
    "days_to_settle",
    "baseline_date",
    "terms_days",
    "credit_flag",
)
_CUSTOMER_LEVEL = tuple(CUSTOMER_OPTIONAL)
_INVOICE_TARGETS = frozenset(
    (*INVOICE_REQUIRED, *INVOICE_OPTIONAL, *_CUSTOMER_LEVEL, *_DERIVED_INPUTS)
)
_CUSTOMER_TARGETS = frozenset((*CUSTOMER_REQUIRED, *CUSTOMER_OPTIONAL))
_DATE_TARGETS = frozenset(
    {
        "invoice_date",
        "due_date",
        "paid_date",
        "dispute_date",
        "written_off_date",
        "created_date",
        "baseline_date",
    }
)
_NUMBER_TARGETS = frozenset(
    {
        "amount",
        "paid_amount",
        "credit_limit",
        "payment_terms_days",
        "days_late",
        "days_to_settle",
    }
)
_FLAG_DEFAULTS = {
    "open_flag": ("x", "yes", "y", "true", "t", "1", "open", "o", "unpaid", "outstanding"),
    "credit_flag": ("h", "credit", "cr", "c"),
}
_AUTO_FORMATS = (
    "yyyymmdd",
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%d.%m.%Y",
    "%d.%m.%y",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%d-%m-%Y",
    "%m/%d/%y",
    "%d/%m/%y",
    "%d-%b-%Y",
    "%d %b %Y",
    "excel",
)
_AMBIGUOUS = (("%m/%d/%Y", "%d/%m/%Y"), ("%m/%d/%y", "%d/%m/%y"))
_FAIL_SHARE = 0.5
"""A column whose format fails on more than this share of its values is a mapping error."""


class MappingError(ValueError):
    """The mapping does not fit the source (or is invalid); ``str(e)`` is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


# ------------------------------------------------------------------------------ the mapping


class ColumnSpec(BaseModel):
    """How to read one target column from the source."""

    model_config = ConfigDict(extra="forbid")

    column: str | list[str] = Field(description="source column, or alternatives in order")
    format: str | None = Field(None, description="date format: strptime, yyyymmdd or excel")
    decimal: str | None = Field(None, max_length=1, description="decimal mark, e.g. ','")
    thousands: str | None = Field(None, max_length=1, description="thousands separator")
    true_values: list[str] | None = Field(None, description="values meaning true (flags)")
    optional: bool = Field(False, description="absent source column => target left out")

    @property
    def candidates(self) -> list[str]:
        """The source column names to try, in order."""
        return [self.column] if isinstance(self.column, str) else list(self.column)


class TableMapping(BaseModel):
    """The mapping of one contract table."""

    model_config = ConfigDict(extra="forbid")

    file: str | None = None
    columns: dict[str, str | list[str] | ColumnSpec]
    constants: dict[str, str | int | float | bool] = Field(default_factory=dict)
    dedupe: bool = False

    def specs(self) -> dict[str, ColumnSpec]:
        """Every column entry as a :class:`ColumnSpec`."""
        return {
            target: spec if isinstance(spec, ColumnSpec) else ColumnSpec(column=spec)
            for target, spec in self.columns.items()
        }


class Mapping(BaseModel):
    """A whole mapping file: ``invoices`` (required) and ``customers`` (optional)."""

    model_config = ConfigDict(extra="forbid")

    invoices: TableMapping
    customers: TableMapping | None = None

    @field_validator("invoices")
    @classmethod
    def _invoice_targets(cls, v: TableMapping) -> TableMapping:
        _check_targets("invoices", v, _INVOICE_TARGETS, INVOICE_REQUIRED)
        return v

    @field_validator("customers")
    @classmethod
    def _customer_targets(cls, v: TableMapping | None) -> TableMapping | None:
        if v is not None:
            _check_targets("customers", v, _CUSTOMER_TARGETS, CUSTOMER_REQUIRED)
        return v


def _check_targets(
    table: str, tm: TableMapping, allowed: frozenset[str], required: tuple[str, ...]
) -> None:
    unknown = sorted((set(tm.columns) | set(tm.constants)) - allowed)
    if unknown:
        raise ValueError(
            f"{table}: unknown target column(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    missing = [
        c
        for c in required
        if c not in tm.columns
        and c not in tm.constants
        and not (c == "due_date" and "terms_days" in tm.columns)
    ]
    if missing:
        raise ValueError(f"{table}: no mapping for required column(s) {', '.join(missing)}")


def _one_line_validation(exc: ValidationError, where: str) -> MappingError:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    msg = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown key (typo?)"
    return MappingError(f"{where}: {loc}: {msg}" if loc else f"{where}: {msg}")


def _parse_mapping(data: Any, where: str) -> Mapping:
    if not isinstance(data, dict):
        raise MappingError(f"{where}: expected a YAML mapping with an 'invoices' key")
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        raise _one_line_validation(exc, where) from None


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping YAML file.

    Args:
        path: The YAML file.

    Returns:
        The validated mapping.

    Raises:
        MappingError: If the file is missing, is not valid YAML, or does not validate.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise MappingError(f"{path}: mapping file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return _parse_mapping(data, str(path))


def load_preset(name: str) -> Mapping:
    """The shipped mapping of a preset (see :data:`PRESETS`).

    Raises:
        MappingError: If there is no such preset.
    """
    import yaml

    if name not in PRESETS:
        raise MappingError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    text = resources.files("payer_model.data.presets").joinpath(f"{name}.yaml").read_text("utf-8")
    return _parse_mapping(yaml.safe_load(text), f"preset {name}")


# ------------------------------------------------------------------------------- the report


@dataclass
class ImportReport:
    """Counts and notes of one import.

    Per table: ``rows_in + derived == rows_out + quarantined + duplicates``. ``reasons``
    counts quarantined rows per ``table:reason`` (import-stage and contract reasons alike).
    """

    source: str
    mapping: str
    out_dir: str
    rows_in: dict[str, int] = field(default_factory=dict)
    rows_out: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    derived: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)

    def bad_share(self, table: str = "invoices") -> float:
        """Share of a table's source rows that were quarantined."""
        n = self.rows_in.get(table, 0)
        return self.quarantined.get(table, 0) / n if n else 0.0

    def lines(self) -> list[str]:
        """The report as readable lines (counts, then reasons, then notes)."""
        out = []
        for t in ("invoices", "customers"):
            if t not in self.rows_in:
                continue
            out.append(
                f"{t}: {self.rows_in[t]:,} rows in, {self.rows_out[t]:,} out, "
                f"{self.quarantined[t]:,} quarantined, {self.duplicates.get(t, 0):,} duplicates"
                + (f", {self.derived[t]:,} derived" if self.derived.get(t) else "")
            )
        for reason, n in sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            out.append(f"quarantined {reason}: {n:,}")
        out.extend(f"note: {n}" for n in self.notes)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        out = asdict(self)
        out["bad_share"] = {t: round(self.bad_share(t), 6) for t in self.rows_in}
        return out


# ------------------------------------------------------------------------------- parsing


def _norm(name: object) -> str:
    # the same normalisation read_table applies to headers
    return re.sub(r"\s+", "_", str(name).replace("\ufeff", "").strip().lower())


def _text(s: pd.Series) -> pd.Series:
    """A source column as stripped strings, '' for missing, integral floats without '.0'."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s.dt.strftime("%Y-%m-%d").astype(object).where(s.notna(), "").astype(str)

    def one(x: object) -> str:
        if x is None or x is pd.NA or x is pd.NaT:
            return ""
        if isinstance(x, float | np.floating):
            if np.isnan(x):
                return ""
            return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))
        if isinstance(x, pd.Timestamp):
            return x.strftime("%Y-%m-%d")
        return str(x).strip()

    return pd.Series([one(x) for x in s.tolist()], index=s.index, dtype=object)


def _try_format(text: pd.Series, fmt: str) -> pd.Series:
    """Parse non-empty text with one format; NaT where it does not fit."""
    if fmt in ("yyyymmdd", "%Y%m%d"):
        t = text.str.replace(r"\.0*$", "", regex=True)
        t = t.where(t.str.fullmatch(r"\d{8}"), "")
        return pd.to_datetime(t, format="%Y%m%d", errors="coerce")
    if fmt == "excel":
        num = pd.to_numeric(text.where(text.str.fullmatch(r"\d{4,5}(\.\d+)?"), ""), "coerce")
        num = num.where((num >= 1) & (num < 110_000))
        out = pd.to_datetime("1899-12-30") + pd.to_timedelta(np.floor(num), unit="D")
        return pd.Series(out, index=text.index)
    if "%H" not in fmt:
        text = text.str.replace(r"[ T]00:00(:00(\.0+)?)?$", "", regex=True)
    return pd.to_datetime(text, format=fmt, errors="coerce")


def _parse_dates(text: pd.Series, fmt: str | None, label: str) -> tuple[pd.Series, str]:
    """Dates of a column (NaT for empty or unparseable) and the format used."""
    filled = text.ne("")
    n = int(filled.sum())
    if n == 0:
        return pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]"), fmt or "auto"
    if fmt is None:
        sample = text[filled]
        counts = {f: int(_try_format(sample, f).notna().sum()) for f in _AUTO_FORMATS}
        best = max(counts.values())
        for a, b in _AMBIGUOUS:
            if counts[a] == counts[b] == best and best > 0:
                raise MappingError(
                    f"{label}: dates like {sample.iloc[0]!r} fit both {a} and {b}; "
                    "set a format in the mapping"
                )
        fmt = next(f for f in _AUTO_FORMATS if counts[f] == best)
    try:
        dates = _try_format(text, fmt)
    except ValueError as exc:
        raise MappingError(f"{label}: bad date format {fmt!r} ({exc})") from None
    bad = filled & dates.isna()
    if int(bad.sum()) > _FAIL_SHARE * n:
        raise MappingError(
            f"{label}: {int(bad.sum()):,} of {n:,} values do not match date format {fmt!r}, "
            f"e.g. {text[bad].iloc[0]!r}; fix the format in the mapping"
        )
    return dates.astype("datetime64[ns]"), fmt


def _normalise_number(text: pd.Series, decimal: str | None, thousands: str | None) -> pd.Series:
    """Rewrite numbers written with a known decimal mark as plain ``-1234.5`` text."""
    if decimal is None and thousands is None:
        return text
    t = text.str.replace(r"[\s\u00a0']", "", regex=True)
    if thousands:
        t = t.str.replace(thousands, "", regex=False)
    if decimal and decimal != ".":
        t = t.str.replace(decimal, ".", regex=False)
    trailing = t.str.endswith("-") & t.str.len().gt(1)
    return t.where(~trailing, "-" + t.str[:-1])


def _to_number(text: pd.Series) -> pd.Series:
    return pd.to_numeric(text.where(text.ne(""), None), errors="coerce").astype("float64")


def _iso(dates: pd.Series) -> pd.Series:
    return dates.dt.strftime("%Y-%m-%d").astype(object).where(dates.notna(), "").astype(str)


# ------------------------------------------------------------------------------ importing


@dataclass
class _Bad:
    """Import-stage rejections of one table: source row position -> reasons."""

    reasons: dict[int, list[str]] = field(default_factory=dict)

    def add(self, mask: np.ndarray, reason: str) -> None:
        for i in np.flatnonzero(mask):
            self.reasons.setdefault(int(i), []).append(reason)


def _resolve(spec: ColumnSpec, columns: list[str], label: str) -> str | None:
    for cand in spec.candidates:
        if _norm(cand) in columns:
            return _norm(cand)
    if spec.optional:
        return None
    names = " / ".join(repr(c) for c in spec.candidates)
    raise MappingError(
        f"{label}: source column {names} not found; available columns: {', '.join(columns)}"
    )


def _map_table(
    table: str, tm: TableMapping, source: pd.DataFrame, bad: _Bad, notes: list[str]
) -> pd.DataFrame:
    """Mapped string columns (ISO dates, plain numbers) plus derived-input helpers."""
    columns = [c for c in source.columns if c != ROW_COL and not c.startswith("_")]
    out = pd.DataFrame(index=source.index)
    for target, spec in tm.specs().items():
        label = f"{table}.{target}"
        col = _resolve(spec, columns, label)
        if col is None:
            continue
        text = _text(source[col])
        label = f"{label} (source column {col!r})"
        if target in _DATE_TARGETS:
            dates, used = _parse_dates(text, spec.format, label)
            bad.add((text.ne("") & dates.isna()).to_numpy(), f"unparseable_date:{target}")
            out[target] = dates
            if spec.format is None and used not in ("%Y-%m-%d", "yyyymmdd"):
                notes.append(f"{table}.{target}: dates read as {used} (detected)")
        elif target in _FLAG_DEFAULTS:
            true = {v.strip().lower() for v in (spec.true_values or _FLAG_DEFAULTS[target])}
            out[target] = text.str.lower().isin(true)
        elif target in _NUMBER_TARGETS or target == "terms_days":
            norm = _normalise_number(text, spec.decimal, spec.thousands)
            if target == "terms_days":
                norm = norm.str.extract(r"(\d+)\s*$", expand=False).fillna("")
            out[target] = norm
        else:
            out[target] = text
    for target, value in tm.constants.items():
        out[target] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def _derive_invoices(m: pd.DataFrame, bad: _Bad, notes: list[str]) -> None:
    """Fill due and paid dates from derived inputs, in place; flag impossible rows."""
    if "terms_days" in m.columns:
        base = m["baseline_date"] if "baseline_date" in m.columns else m["invoice_date"]
        terms = pd.to_timedelta(_to_number(m["terms_days"]), unit="D")
        computed = base + terms
        due = m["due_date"] if "due_date" in m.columns else pd.Series(pd.NaT, index=m.index)
        fill = due.isna() & computed.notna()
        if fill.any():
            notes.append(f"invoices: {int(fill.sum()):,} due dates computed as baseline + terms")
        m["due_date"] = due.where(~fill, computed)
    reconstructed = None
    if "days_late" in m.columns and "due_date" in m.columns:
        reconstructed = m["due_date"] + pd.to_timedelta(_to_number(m["days_late"]), unit="D")
        how = "due date + days late"
    elif "days_to_settle" in m.columns:
        settle = pd.to_timedelta(_to_number(m["days_to_settle"]), unit="D")
        reconstructed = m["invoice_date"] + settle
        how = "invoice date + days to settle"
    if reconstructed is not None:
        if "paid_date" in m.columns:
            expected = reconstructed
            if how.startswith("due") and not (_to_number(m["days_late"]) < 0).any():
                # days late clipped at 0 (early payers show 0): compare clipped values
                late = (m["paid_date"] - m["due_date"]).dt.days.clip(lower=0)
                expected = m["due_date"] + pd.to_timedelta(late, unit="D")
            both = m["paid_date"].notna() & reconstructed.notna()
            differ = int((both & (expected != reconstructed)).sum())
            if differ:
                notes.append(
                    f"invoices: {differ:,} rows have a paid date that differs from {how} "
                    "(the paid date is kept)"
                )
            fill = m["paid_date"].isna() & reconstructed.notna()
            m["paid_date"] = m["paid_date"].where(~fill, reconstructed)
        else:
            fill = reconstructed.notna()
            m["paid_date"] = reconstructed
        if fill.any():
            notes.append(f"invoices: {int(fill.sum()):,} paid dates reconstructed as {how}")
    if "open_flag" in m.columns:
        is_open = m["open_flag"].astype(bool)
        paid = m["paid_date"] if "paid_date" in m.columns else pd.Series(pd.NaT, index=m.index)
        bad.add((~is_open & paid.isna()).to_numpy(), "closed_without_paid_date")
        cleared_open = int((is_open & paid.notna()).sum())
        if cleared_open:
            notes.append(f"invoices: {cleared_open:,} open items had a paid date: set to open")
        m["paid_date"] = paid.where(~is_open)
    if "credit_flag" in m.columns and "amount" in m.columns:
        credit = m["credit_flag"].astype(bool)
        amount = m["amount"]
        # an amount already written negative (-1, 1-, (1)) keeps its sign
        signed = amount.str.startswith(("-", "(")) | amount.str.endswith("-")
        unsigned = ~signed & amount.ne("")
        m["amount"] = amount.where(~(credit & unsigned), "-" + amount)


def _read_source(
    src: Path, tm: TableMapping, table: str, notes: list[str]
) -> tuple[pd.DataFrame, str]:
    from payer_model.data.contract import ContractError, read_table

    base = src if src.is_dir() else src.parent
    if tm.file:
        file = base / tm.file
    elif src.is_dir():
        raise MappingError(f"{src} is a folder: set {table}.file in the mapping")
    else:
        file = src
    if not file.is_file():
        raise MappingError(f"{file}: source file not found")
    try:
        frame, more = read_table(file)
    except ContractError as exc:
        raise MappingError(str(exc)) from None
    notes.extend(more)
    if len(frame) == 0:
        raise MappingError(f"{file}: no data rows")
    if ROW_COL not in frame.columns:
        frame[ROW_COL] = np.arange(2, len(frame) + 2)
    return frame.reset_index(drop=True), str(file)


def _dedupe(frame: pd.DataFrame, on: bool) -> np.ndarray:
    if not on:
        return np.zeros(len(frame), dtype=bool)
    cols = [c for c in frame.columns if not c.startswith("_")]
    return frame[cols].astype(str).duplicated(keep="first").to_numpy()


def _flag_broken_lines(source: pd.DataFrame, bad: _Bad) -> None:
    """Lines the reader found with a wrong field count are never imported."""
    if READ_ERROR_COL in source.columns:
        broken = _text(source[READ_ERROR_COL]).ne("").to_numpy()
        bad.add(broken, "wrong_field_count")


def _contract_frame(m: pd.DataFrame, columns: tuple[str, ...], rows: pd.Series) -> pd.DataFrame:
    out = pd.DataFrame(index=m.index)
    for c in columns:
        if c not in m.columns:
            continue
        s = m[c]
        out[c] = _iso(s) if pd.api.types.is_datetime64_any_dtype(s.dtype) else s.astype(str)
    out[ROW_COL] = rows.to_numpy()
    return out.reset_index(drop=True)


def _quarantine_frame(
    source: pd.DataFrame, reasons: dict[int, list[str]], stages: dict[int, str]
) -> pd.DataFrame:
    idx = sorted(reasons)
    q = source.iloc[idx].copy()
    cols = [c for c in q.columns if not c.startswith("_")]
    q = q[[ROW_COL, *cols, *([EXTRA_COL] if EXTRA_COL in q.columns else [])]]
    q[REASON_COL] = [";".join(reasons[i]) for i in idx]
    q[STAGE_COL] = [stages[i] for i in idx]
    return q.reset_index(drop=True)


def import_export(
    src: str | Path,
    mapping: Mapping | str | Path,
    out_dir: str | Path,
    *,
    default_currency: str = DEFAULT_CURRENCY,
) -> ImportReport:
    """Import a foreign export into a contract data folder.

    Args:
        src: The export file (CSV, Parquet, ``.xlsx``), or a folder when the mapping names
            the files.
        mapping: A :class:`Mapping`, a mapping YAML path, or a preset name (:data:`PRESETS`).
        out_dir: Folder for ``invoices.csv``, ``customers.csv``, ``_import_quarantine/`` and
            ``import_report.json`` (created; must not be the source's folder).
        default_currency: Currency of rows without one.

    Returns:
        The import report (also written as ``import_report.json``).

    Raises:
        MappingError: The mapping does not fit the source: a missing source column, a date
            format most values fail, ambiguous dates, an unreadable source.
    """
    from payer_model.data.contract import ContractError, validate_frames

    src, out_dir = Path(src), Path(out_dir)
    if isinstance(mapping, Mapping):
        mp, mapping_name = mapping, "in-memory mapping"
    elif isinstance(mapping, str) and mapping in PRESETS:
        mp, mapping_name = load_preset(mapping), f"preset {mapping}"
    else:
        mp, mapping_name = load_mapping(mapping), str(mapping)
    if not src.exists():
        raise MappingError(f"{src}: source not found")
    src_folder = src if src.is_dir() else src.parent
    if out_dir.resolve() == src_folder.resolve():
        raise MappingError(f"{out_dir}: the output folder must not be the source's folder")
    notes: list[str] = []
    report = ImportReport(str(src), mapping_name, str(out_dir))

    # invoices: read, dedupe, map, derive
    inv_src, inv_file = _read_source(src, mp.invoices, "invoices", notes)
    bad = _Bad()
    dup = _dedupe(inv_src, mp.invoices.dedupe)
    bad.add(dup, "duplicate_row")
    _flag_broken_lines(inv_src, bad)
    mapped = _map_table("invoices", mp.invoices, inv_src, bad, notes)
    _derive_invoices(mapped, bad, notes)
    keep = np.ones(len(inv_src), dtype=bool)
    keep[list(bad.reasons)] = False
    # a duplicate is only a duplicate: its other import problems are the original's
    for i in np.flatnonzero(dup):
        bad.reasons[int(i)] = ["duplicate_row"]
    kept = mapped[keep]
    invoices = _contract_frame(
        kept, (*INVOICE_REQUIRED, *INVOICE_OPTIONAL), inv_src[ROW_COL][keep]
    )
    if invoices.empty:
        raise MappingError(f"{inv_file}: no invoice row could be mapped; see the quarantine")

    # customers: a separate mapping, else customer columns of the invoices mapping
    cust_src: pd.DataFrame | None = None
    customers: pd.DataFrame | None = None
    cust_cols = (*CUSTOMER_REQUIRED, *CUSTOMER_OPTIONAL)
    cust_bad = _Bad()
    if mp.customers is not None:
        if mp.customers.file:
            cust_src, _ = _read_source(src, mp.customers, "customers", notes)
            _flag_broken_lines(cust_src, cust_bad)
        else:
            cust_src = inv_src
        cmapped = _map_table("customers", mp.customers, cust_src, cust_bad, notes)
        ckeep = np.ones(len(cust_src), dtype=bool)
        ckeep[list(cust_bad.reasons)] = False
        if mp.customers.file:
            cdup = _dedupe(cust_src, mp.customers.dedupe) & ckeep
            report.duplicates["customers"] = int(cdup.sum())
            cust_bad.add(cdup, "duplicate_row")
            ckeep &= ~cdup
        else:  # one customer row per id out of the invoice lines
            ckeep &= keep
            ids = cmapped["customer_id"].where(ckeep)
            ckeep &= ~(ids.duplicated(keep="first").to_numpy() & ckeep) & ids.notna().to_numpy()
        customers = _contract_frame(cmapped[ckeep], cust_cols, cust_src[ROW_COL][ckeep])
    elif any(c in kept.columns for c in _CUSTOMER_LEVEL):
        first = ~kept["customer_id"].duplicated(keep="first").to_numpy()
        customers = _contract_frame(kept[first], cust_cols, inv_src[ROW_COL][keep][first])
        report.derived["customers"] = len(customers)
        notes.append(f"customers built from the invoice rows: {len(customers):,}")
    if customers is not None and mp.customers is not None:
        known = set(customers["customer_id"])
        only = [c for c in pd.unique(invoices["customer_id"]) if c and c not in known]
        if only:
            extra = pd.DataFrame({"customer_id": only, ROW_COL: 0})
            customers = pd.concat([customers, extra], ignore_index=True).fillna("")
            report.derived["customers"] = len(only)
            notes.append(
                f"{len(only):,} customers present in invoices only: added with defaults "
                f"(e.g. {only[0]})"
            )

    # the contract's validation on the mapped tables
    try:
        result = validate_frames(
            {"invoices": invoices, "customers": customers},
            default_currency=default_currency,
            sources={"invoices": inv_file, "customers": "customers"},
        )
    except ContractError as exc:
        raise MappingError(str(exc)) from None
    crep = result.report
    notes.extend(crep.notes)
    if crep.derived.get("customers"):
        report.derived["customers"] = crep.derived["customers"]

    # quarantine: import-stage and contract-stage reasons, mapped back to source rows
    stages = {i: "import" for i in bad.reasons}
    pos_of_row = pd.Series(np.arange(len(inv_src)), index=inv_src[ROW_COL].to_numpy())
    if "invoices" in result.quarantine:
        cq = result.quarantine["invoices"]
        for row, reason in zip(cq[ROW_COL].to_numpy(), cq[REASON_COL], strict=True):
            i = int(pos_of_row.loc[row])
            bad.reasons[i] = str(reason).split(";")
            stages[i] = "contract"
    qdir = out_dir / QUARANTINE_DIR
    qdir.mkdir(parents=True, exist_ok=True)
    for stale in qdir.glob("*.csv"):
        stale.unlink()
    n_dup = int(dup.sum())
    report.rows_in["invoices"] = len(inv_src)
    report.duplicates["invoices"] = n_dup
    report.quarantined["invoices"] = len(bad.reasons) - n_dup
    if bad.reasons:
        q = _quarantine_frame(inv_src, bad.reasons, stages)
        path = qdir / "invoices.csv"
        q.to_csv(path, index=False, lineterminator="\n")
        report.files["quarantine_invoices"] = str(path)
    cq_frames = []
    if cust_src is not None and cust_bad.reasons:
        cq_frames.append(
            _quarantine_frame(
                cust_src, cust_bad.reasons, dict.fromkeys(cust_bad.reasons, "import")
            )
        )
    if "customers" in result.quarantine:
        cq = result.quarantine["customers"].copy()
        cq[STAGE_COL] = "contract"
        cq_frames.append(cq)
    n_cdup = report.duplicates.get("customers", 0)
    report.rows_in["customers"] = len(cust_src) if mp.customers and mp.customers.file else 0
    report.duplicates.setdefault("customers", 0)
    report.quarantined["customers"] = sum(len(f) for f in cq_frames) - n_cdup
    if cq_frames:
        path = qdir / "customers.csv"
        pd.concat(cq_frames, ignore_index=True).to_csv(path, index=False, lineterminator="\n")
        report.files["quarantine_customers"] = str(path)
    for reason in (r for rs in bad.reasons.values() for r in rs):
        if reason != "duplicate_row":
            key = f"invoices:{reason}"
            report.reasons[key] = report.reasons.get(key, 0) + 1
    for frame in cq_frames:
        for reasons in frame[REASON_COL]:
            for reason in str(reasons).split(";"):
                if reason != "duplicate_row":
                    key = f"customers:{reason}"
                    report.reasons[key] = report.reasons.get(key, 0) + 1

    # clean tables out
    clean_inv, clean_cust = result.tables["invoices"], result.tables["customers"]
    if mp.customers is None or not mp.customers.file:
        report.rows_in["customers"] = 0
    report.rows_out = {"invoices": len(clean_inv), "customers": len(clean_cust)}
    if mp.customers is not None and not mp.customers.file:
        # customer rows came from invoice lines: count them as derived
        report.derived["customers"] = (
            report.rows_out["customers"] + report.quarantined["customers"]
        )
    report.derived.setdefault("invoices", 0)
    report.derived.setdefault("customers", 0)
    _currency_notes(clean_inv, default_currency, notes)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in (("invoices", clean_inv), ("customers", clean_cust)):
        path = out_dir / f"{name}.csv"
        frame.to_csv(path, index=False, date_format="%Y-%m-%d", lineterminator="\n")
        report.files[name] = str(path)
    report.notes = notes
    report_path = out_dir / REPORT_FILE
    report.files["report"] = str(report_path)
    report_path.write_text(
        json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    for line in report.lines():
        logger.info("%s", line)
    return report


def _currency_notes(invoices: pd.DataFrame, default_currency: str, notes: list[str]) -> None:
    counts = invoices["currency"].value_counts()
    if len(counts) > 1 or (len(counts) == 1 and counts.index[0] != default_currency):
        listed = ", ".join(f"{c} {n:,}" for c, n in counts.items())
        notes.append(f"invoices in {len(counts)} currencies ({listed}): amounts are not converted")
    credit = int((invoices["amount"] < 0).sum())
    if credit:
        notes.append(f"{credit:,} credit notes (negative amounts): kept, excluded from lateness")
