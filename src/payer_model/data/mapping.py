"""Import mappings: the YAML model, presets, and applying a mapping to a source table.

A mapping says which source column feeds which contract column and how to read it (see
:mod:`payer_model.data.importers` for the file format). :func:`map_table` turns a source
table into contract-named string columns (ISO dates, plain numbers) and
:func:`derive_invoices` fills what the source lacks (due dates from terms, paid dates from
days late or days to settle, open and credit flags).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from payer_model.data.io import normalise_header
from payer_model.data.parsing import (
    DateFormatError,
    normalise_number,
    parse_formatted_dates,
    to_number,
    to_text,
)
from payer_model.data.schema import (
    CUSTOMER_OPTIONAL,
    CUSTOMER_REQUIRED,
    INVOICE_OPTIONAL,
    INVOICE_REQUIRED,
    ROW_COL,
)

__all__ = [
    "CUSTOMER_LEVEL_TARGETS",
    "PRESETS",
    "ColumnSpec",
    "Mapping",
    "MappingError",
    "Rejections",
    "TableMapping",
    "derive_invoices",
    "load_mapping",
    "load_preset",
    "map_table",
]

PRESETS: tuple[str, ...] = ("ibm-ar", "erp-line-items", "generic-ar")
"""Mapping presets shipped in ``payer_model/data/presets/<name>.yaml``."""

_DERIVED_INPUTS = (
    "open_flag",
    "days_late",
    "days_to_settle",
    "baseline_date",
    "terms_days",
    "credit_flag",
)
CUSTOMER_LEVEL_TARGETS = tuple(CUSTOMER_OPTIONAL)
_INVOICE_TARGETS = frozenset(
    (*INVOICE_REQUIRED, *INVOICE_OPTIONAL, *CUSTOMER_LEVEL_TARGETS, *_DERIVED_INPUTS)
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


class MappingError(ValueError):
    """The mapping does not fit the source (or is invalid); ``str(e)`` is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


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


# ------------------------------------------------------------------- applying a mapping


@dataclass
class Rejections:
    """Import-stage rejections of one table: source row position -> reasons."""

    reasons: dict[int, list[str]] = field(default_factory=dict)

    def add(self, mask: np.ndarray, reason: str) -> None:
        """Add ``reason`` to every row where ``mask`` is True."""
        for i in np.flatnonzero(mask):
            self.reasons.setdefault(int(i), []).append(reason)


def _resolve(spec: ColumnSpec, columns: list[str], label: str) -> str | None:
    for cand in spec.candidates:
        if normalise_header(cand) in columns:
            return normalise_header(cand)
    if spec.optional:
        return None
    names = " / ".join(repr(c) for c in spec.candidates)
    raise MappingError(
        f"{label}: source column {names} not found; available columns: {', '.join(columns)}"
    )


def _map_dates(
    text: pd.Series, spec: ColumnSpec, name: str, label: str, bad: Rejections, notes: list[str]
) -> pd.Series:
    """Dates of a mapped column; flags unparseable values, notes a detected format."""
    try:
        dates, used = parse_formatted_dates(text, spec.format, label)
    except DateFormatError as exc:
        raise MappingError(str(exc)) from None
    target = name.split(".", 1)[1]
    bad.add((text.ne("") & dates.isna()).to_numpy(), f"unparseable_date:{target}")
    if spec.format is None and used not in ("%Y-%m-%d", "yyyymmdd"):
        notes.append(f"{name}: dates read as {used} (detected)")
    return dates


def map_table(
    table: str, tm: TableMapping, source: pd.DataFrame, bad: Rejections, notes: list[str]
) -> pd.DataFrame:
    """Mapped string columns (ISO dates, plain numbers) plus derived-input helpers."""
    columns = [c for c in source.columns if c != ROW_COL and not c.startswith("_")]
    out = pd.DataFrame(index=source.index)
    for target, spec in tm.specs().items():
        label = f"{table}.{target}"
        col = _resolve(spec, columns, label)
        if col is None:
            continue
        text = to_text(source[col], dates_only=True)
        label = f"{label} (source column {col!r})"
        if target in _DATE_TARGETS:
            out[target] = _map_dates(text, spec, f"{table}.{target}", label, bad, notes)
        elif target in _FLAG_DEFAULTS:
            true = {v.strip().lower() for v in (spec.true_values or _FLAG_DEFAULTS[target])}
            out[target] = text.str.lower().isin(true)
        elif target in _NUMBER_TARGETS or target == "terms_days":
            norm = normalise_number(text, spec.decimal, spec.thousands)
            if target == "terms_days":
                norm = norm.str.extract(r"(\d+)\s*$", expand=False).fillna("")
            out[target] = norm
        else:
            out[target] = text
    for target, value in tm.constants.items():
        out[target] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def _derive_due(m: pd.DataFrame, notes: list[str]) -> None:
    """Due date = baseline (or invoice) date + terms where the due date is missing."""
    base = m["baseline_date"] if "baseline_date" in m.columns else m["invoice_date"]
    terms = pd.to_timedelta(to_number(m["terms_days"]), unit="D")
    computed = base + terms
    due = m["due_date"] if "due_date" in m.columns else pd.Series(pd.NaT, index=m.index)
    fill = due.isna() & computed.notna()
    if fill.any():
        notes.append(f"invoices: {int(fill.sum()):,} due dates computed as baseline + terms")
    m["due_date"] = due.where(~fill, computed)


def _reconstructed_paid(m: pd.DataFrame) -> tuple[pd.Series | None, str]:
    """Paid dates from days late or days to settle (None when neither is mapped), and how."""
    if "days_late" in m.columns and "due_date" in m.columns:
        late = pd.to_timedelta(to_number(m["days_late"]), unit="D")
        return m["due_date"] + late, "due date + days late"
    if "days_to_settle" in m.columns:
        settle = pd.to_timedelta(to_number(m["days_to_settle"]), unit="D")
        return m["invoice_date"] + settle, "invoice date + days to settle"
    return None, ""


def _derive_paid(m: pd.DataFrame, notes: list[str]) -> None:
    """Fill missing paid dates from days late / days to settle; note disagreements."""
    reconstructed, how = _reconstructed_paid(m)
    if reconstructed is None:
        return
    if "paid_date" in m.columns:
        expected = reconstructed
        if how.startswith("due") and not (to_number(m["days_late"]) < 0).any():
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


def _apply_open_flag(m: pd.DataFrame, bad: Rejections, notes: list[str]) -> None:
    """Open items get no paid date; a closed item without one is rejected."""
    is_open = m["open_flag"].astype(bool)
    paid = m["paid_date"] if "paid_date" in m.columns else pd.Series(pd.NaT, index=m.index)
    bad.add((~is_open & paid.isna()).to_numpy(), "closed_without_paid_date")
    cleared_open = int((is_open & paid.notna()).sum())
    if cleared_open:
        notes.append(f"invoices: {cleared_open:,} open items had a paid date: set to open")
    m["paid_date"] = paid.where(~is_open)


def _apply_credit_flag(m: pd.DataFrame) -> None:
    """Negate the amounts of credit-flagged rows (SAP ``H``) not already written negative."""
    credit = m["credit_flag"].astype(bool)
    amount = m["amount"]
    # an amount already written negative (-1, 1-, (1)) keeps its sign
    signed = amount.str.startswith(("-", "(")) | amount.str.endswith("-")
    unsigned = ~signed & amount.ne("")
    m["amount"] = amount.where(~(credit & unsigned), "-" + amount)


def derive_invoices(m: pd.DataFrame, bad: Rejections, notes: list[str]) -> None:
    """Fill due and paid dates from derived inputs, in place; flag impossible rows."""
    if "terms_days" in m.columns:
        _derive_due(m, notes)
    _derive_paid(m, notes)
    if "open_flag" in m.columns:
        _apply_open_flag(m, bad, notes)
    if "credit_flag" in m.columns and "amount" in m.columns:
        _apply_credit_flag(m)
