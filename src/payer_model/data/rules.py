"""The row-rule toolkit of the contract: named pandera checks and per-table bookkeeping.

A :class:`PreparedTable` holds a source table as original values, a text view and source
row numbers; the validators of :mod:`payer_model.data.validators` add one boolean mask per
reason code (from the parsers and from :func:`run_rules`) and :func:`finish_table` splits
the rows into the clean table and the quarantine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from payer_model.data.io import header_names
from payer_model.data.parsing import blank_as_na, parse_dates, parse_number_columns, to_text
from payer_model.data.report import ContractError
from payer_model.data.schema import (
    DATE_DTYPE,
    EXTRA_COL,
    HELPER_COLUMNS,
    READ_ERROR_COL,
    REASON_COL,
    ROW_COL,
)

__all__ = [
    "Check",
    "Outcome",
    "PreparedTable",
    "add_dates",
    "add_numbers",
    "base_masks",
    "finish_table",
    "is_in",
    "not_before",
    "not_dup",
    "prepare_table",
    "run_rules",
    "str_col",
]

Check = tuple[str, Callable[[Any], pd.Series]]


def _pandera() -> Any:
    import warnings

    with warnings.catch_warnings():
        # pandera imports pyspark.pandas when installed, which warns about pandas 3.
        warnings.filterwarnings("ignore", category=FutureWarning)
        import pandera.pandas as pa
    return pa


def run_rules(
    table: str,
    frame: pd.DataFrame,
    column_checks: Mapping[str, list[Check]],
    frame_checks: list[Check],
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


def not_dup(s: pd.Series) -> pd.Series:
    """Check: no value seen on an earlier row (missing values pass)."""
    return ~(s.duplicated(keep="first") & s.notna())


def is_in(values: Any) -> Callable[[pd.Series], pd.Series]:
    """Check factory: the value is one of ``values`` (missing values pass)."""
    allowed = pd.Index(pd.unique(pd.Series(list(values), dtype=object)))

    def check(s: pd.Series) -> pd.Series:
        return s.isin(allowed) | s.isna()

    return check


def not_before(later: str, earlier: str) -> Callable[[pd.DataFrame], pd.Series]:
    """Frame-check factory: column ``later`` is not before ``earlier`` (NA passes)."""

    def check(df: pd.DataFrame) -> pd.Series:
        return ~(df[later] < df[earlier]).fillna(False).astype(bool)

    return check


# --------------------------------------------------------------------- table bookkeeping


@dataclass
class PreparedTable:
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
        """Whether the source has the column."""
        return col in self.text.columns

    def col(self, col: str) -> pd.Series:
        """Text of a column; all '' when the column is absent."""
        if col in self.text.columns:
            return self.text[col]
        return pd.Series([""] * len(self.text), dtype=object).astype(str)


@dataclass
class Outcome:
    """A validated table: clean rows, quarantined rows (None if none), reason counts."""

    clean: pd.DataFrame
    quarantine: pd.DataFrame | None
    reasons: dict[str, int]
    good: np.ndarray


def prepare_table(
    name: str,
    frame: pd.DataFrame,
    *,
    source: str,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    notes: list[str],
) -> PreparedTable:
    """Normalise headers, check required columns, split helper columns off."""
    frame = frame.reset_index(drop=True)
    frame.columns = header_names(list(frame.columns), source)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        found = ", ".join(c for c in frame.columns if c not in HELPER_COLUMNS) or "(none)"
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
        read_errors = to_text(frame[READ_ERROR_COL]).ne("").to_numpy(bool)
    extras = to_text(frame[EXTRA_COL]) if EXTRA_COL in frame.columns else None
    data_cols = [c for c in frame.columns if c not in HELPER_COLUMNS]
    orig = frame[data_cols]
    text = pd.DataFrame({c: to_text(orig[c]) for c in data_cols}, index=orig.index)
    unknown = [c for c in data_cols if c not in required and c not in optional]
    if unknown:
        notes.append(f"{name}: columns not in the contract ignored: {', '.join(unknown)}")
    return PreparedTable(name, source, orig, text, rows, read_errors, extras)


def finish_table(tbl: PreparedTable, masks: dict[str, np.ndarray], clean: pd.DataFrame) -> Outcome:
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
    return Outcome(clean.loc[good].reset_index(drop=True), quarantine, reasons, good)


def base_masks(tbl: PreparedTable, required: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The reader's broken-line mask and a missing-value mask per required column."""
    masks: dict[str, np.ndarray] = {}
    if tbl.read_errors.any():
        masks["wrong_field_count"] = tbl.read_errors
    for col in required:
        masks[f"missing_value:{col}"] = tbl.text[col].eq("").to_numpy(bool)
    return masks


def add_dates(
    tbl: PreparedTable, cols: tuple[str, ...], masks: dict[str, np.ndarray]
) -> dict[str, pd.Series]:
    """Parse date columns (NaT when absent), adding their reason masks to ``masks``."""
    out: dict[str, pd.Series] = {}
    for col in cols:
        if not tbl.has(col):
            out[col] = pd.Series(pd.NaT, index=range(len(tbl)), dtype=DATE_DTYPE)
            continue
        values, unparseable, out_of_range = parse_dates(tbl.orig[col], tbl.text[col])
        masks[f"unparseable_date:{col}"] = unparseable
        masks[f"date_out_of_range:{col}"] = out_of_range
        out[col] = values
    return out


def add_numbers(
    tbl: PreparedTable, cols: tuple[str, ...], masks: dict[str, np.ndarray], notes: list[str]
) -> dict[str, pd.Series]:
    """Parse number columns under one convention (NaN when absent), adding masks."""
    present = [c for c in cols if tbl.has(c)]
    parsed = parse_number_columns(tbl.orig, tbl.text, present, tbl.name, notes)
    out: dict[str, pd.Series] = {}
    for col in cols:
        if col in parsed:
            out[col], masks[f"unparseable_number:{col}"] = parsed[col]
        else:
            out[col] = pd.Series(np.nan, index=range(len(tbl)), dtype="float64")
    return out


def str_col(text: pd.Series, default: str | None = None) -> pd.Series:
    """Output string column: '' -> default (or NA when no default)."""
    if default is not None:
        return text.where(text.ne(""), default).astype(str).reset_index(drop=True)
    return blank_as_na(text).reset_index(drop=True)
