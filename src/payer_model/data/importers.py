"""Importers: map a foreign export (ERP line items, accounting CSV, spreadsheet) onto the contract.

A mapping (YAML, validated by :class:`payer_model.data.mapping.Mapping`) says which source
column feeds which contract column and how to read it. :func:`import_export` reads the
source with the contract's reader (:func:`payer_model.data.io.read_table`: CSV with sniffed
delimiter and encoding, Parquet, ``.xlsx``), applies the mapping, parses the source's own
date formats into ISO dates, derives what the source lacks (customers, paid dates from days
late, open flags), then runs the contract's validation
(:func:`payer_model.data.contract.validate_frames`) on the result. It writes

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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from payer_model.data.contract import validate_frames
from payer_model.data.io import read_table
from payer_model.data.mapping import (
    CUSTOMER_LEVEL_TARGETS,
    PRESETS,
    Mapping,
    MappingError,
    Rejections,
    TableMapping,
    derive_invoices,
    load_mapping,
    load_preset,
    map_table,
)
from payer_model.data.parsing import iso_dates, to_text
from payer_model.data.report import ContractError, ImportReport, ValidatedFrames
from payer_model.data.schema import (
    CUSTOMER_OPTIONAL,
    CUSTOMER_REQUIRED,
    DEFAULT_CURRENCY,
    EXTRA_COL,
    INVOICE_OPTIONAL,
    INVOICE_REQUIRED,
    READ_ERROR_COL,
    REASON_COL,
    ROW_COL,
    STAGE_COL,
)

logger = logging.getLogger(__name__)

__all__ = ["ImportReport", "MappingError", "import_export"]

QUARANTINE_DIR = "_import_quarantine"
REPORT_FILE = "import_report.json"
_CUSTOMER_COLS = (*CUSTOMER_REQUIRED, *CUSTOMER_OPTIONAL)


def _read_source(
    src: Path, tm: TableMapping, table: str, notes: list[str]
) -> tuple[pd.DataFrame, str]:
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


def _flag_broken_lines(source: pd.DataFrame, bad: Rejections) -> None:
    """Lines the reader found with a wrong field count are never imported."""
    if READ_ERROR_COL in source.columns:
        broken = to_text(source[READ_ERROR_COL], dates_only=True).ne("").to_numpy()
        bad.add(broken, "wrong_field_count")


def _contract_frame(m: pd.DataFrame, columns: tuple[str, ...], rows: pd.Series) -> pd.DataFrame:
    out = pd.DataFrame(index=m.index)
    for c in columns:
        if c not in m.columns:
            continue
        s = m[c]
        out[c] = iso_dates(s) if pd.api.types.is_datetime64_any_dtype(s.dtype) else s.astype(str)
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


@dataclass
class _InvoiceImport:
    """The invoices side of an import: source rows, rejections and the mapped contract rows."""

    source: pd.DataFrame
    file: str
    bad: Rejections
    dup: np.ndarray
    keep: np.ndarray
    kept: pd.DataFrame
    frame: pd.DataFrame


def _resolve_mapping(mapping: Mapping | str | Path) -> tuple[Mapping, str]:
    if isinstance(mapping, Mapping):
        return mapping, "in-memory mapping"
    if isinstance(mapping, str) and mapping in PRESETS:
        return load_preset(mapping), f"preset {mapping}"
    return load_mapping(mapping), str(mapping)


def _import_invoices(src: Path, mp: Mapping, notes: list[str]) -> _InvoiceImport:
    """Read, dedupe, map and derive the invoices."""
    inv_src, inv_file = _read_source(src, mp.invoices, "invoices", notes)
    bad = Rejections()
    dup = _dedupe(inv_src, mp.invoices.dedupe)
    bad.add(dup, "duplicate_row")
    _flag_broken_lines(inv_src, bad)
    mapped = map_table("invoices", mp.invoices, inv_src, bad, notes)
    derive_invoices(mapped, bad, notes)
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
    return _InvoiceImport(inv_src, inv_file, bad, dup, keep, kept, invoices)


def _mapped_customers(
    src: Path,
    tm: TableMapping,
    inv: _InvoiceImport,
    report: ImportReport,
    notes: list[str],
) -> tuple[pd.DataFrame, pd.DataFrame, Rejections]:
    """Customers of a customers mapping: (source rows, contract rows, rejections)."""
    cust_bad = Rejections()
    if tm.file:
        cust_src, _ = _read_source(src, tm, "customers", notes)
        _flag_broken_lines(cust_src, cust_bad)
    else:
        cust_src = inv.source
    cmapped = map_table("customers", tm, cust_src, cust_bad, notes)
    ckeep = np.ones(len(cust_src), dtype=bool)
    ckeep[list(cust_bad.reasons)] = False
    if tm.file:
        cdup = _dedupe(cust_src, tm.dedupe) & ckeep
        report.duplicates["customers"] = int(cdup.sum())
        cust_bad.add(cdup, "duplicate_row")
        ckeep &= ~cdup
    else:  # one customer row per id out of the invoice lines
        ckeep &= inv.keep
        ids = cmapped["customer_id"].where(ckeep)
        ckeep &= ~(ids.duplicated(keep="first").to_numpy() & ckeep) & ids.notna().to_numpy()
    customers = _contract_frame(cmapped[ckeep], _CUSTOMER_COLS, cust_src[ROW_COL][ckeep])
    return cust_src, customers, cust_bad


def _add_invoice_only_customers(
    customers: pd.DataFrame, invoices: pd.DataFrame, report: ImportReport, notes: list[str]
) -> pd.DataFrame:
    """Customers referenced by invoices but absent from the customers source, with defaults."""
    known = set(customers["customer_id"])
    only = [c for c in pd.unique(invoices["customer_id"]) if c and c not in known]
    if not only:
        return customers
    extra = pd.DataFrame({"customer_id": only, ROW_COL: 0})
    customers = pd.concat([customers, extra], ignore_index=True).fillna("")
    report.derived["customers"] = len(only)
    notes.append(
        f"{len(only):,} customers present in invoices only: added with defaults (e.g. {only[0]})"
    )
    return customers


def _import_customers(
    src: Path, mp: Mapping, inv: _InvoiceImport, report: ImportReport, notes: list[str]
) -> tuple[pd.DataFrame | None, pd.DataFrame | None, Rejections]:
    """A separate customers mapping, else the customer columns of the invoices mapping."""
    if mp.customers is not None:
        cust_src, customers, cust_bad = _mapped_customers(src, mp.customers, inv, report, notes)
        customers = _add_invoice_only_customers(customers, inv.frame, report, notes)
        return cust_src, customers, cust_bad
    if any(c in inv.kept.columns for c in CUSTOMER_LEVEL_TARGETS):
        first = ~inv.kept["customer_id"].duplicated(keep="first").to_numpy()
        rows = inv.source[ROW_COL][inv.keep][first]
        customers = _contract_frame(inv.kept[first], _CUSTOMER_COLS, rows)
        report.derived["customers"] = len(customers)
        notes.append(f"customers built from the invoice rows: {len(customers):,}")
        return None, customers, Rejections()
    return None, None, Rejections()


def _validate(
    inv: _InvoiceImport,
    customers: pd.DataFrame | None,
    default_currency: str,
    report: ImportReport,
    notes: list[str],
) -> ValidatedFrames:
    """The contract's validation on the mapped tables."""
    try:
        result = validate_frames(
            {"invoices": inv.frame, "customers": customers},
            default_currency=default_currency,
            sources={"invoices": inv.file, "customers": "customers"},
        )
    except ContractError as exc:
        raise MappingError(str(exc)) from None
    crep = result.report
    notes.extend(crep.notes)
    if crep.derived.get("customers"):
        report.derived["customers"] = crep.derived["customers"]
    return result


def _quarantine_invoices(
    inv: _InvoiceImport, result: ValidatedFrames, qdir: Path, report: ImportReport
) -> None:
    """Import-stage and contract-stage rejections of invoices, mapped back to source rows."""
    bad = inv.bad
    stages = {i: "import" for i in bad.reasons}
    pos_of_row = pd.Series(np.arange(len(inv.source)), index=inv.source[ROW_COL].to_numpy())
    if "invoices" in result.quarantine:
        cq = result.quarantine["invoices"]
        for row, reason in zip(cq[ROW_COL].to_numpy(), cq[REASON_COL], strict=True):
            i = int(pos_of_row.loc[row])
            bad.reasons[i] = str(reason).split(";")
            stages[i] = "contract"
    n_dup = int(inv.dup.sum())
    report.rows_in["invoices"] = len(inv.source)
    report.duplicates["invoices"] = n_dup
    report.quarantined["invoices"] = len(bad.reasons) - n_dup
    if bad.reasons:
        q = _quarantine_frame(inv.source, bad.reasons, stages)
        path = qdir / "invoices.csv"
        q.to_csv(path, index=False, lineterminator="\n")
        report.files["quarantine_invoices"] = str(path)


def _quarantine_customers(
    cust_src: pd.DataFrame | None,
    cust_bad: Rejections,
    result: ValidatedFrames,
    mp: Mapping,
    qdir: Path,
    report: ImportReport,
) -> list[pd.DataFrame]:
    """Write the customers quarantine; returns its frames (import stage, contract stage)."""
    cq_frames = []
    if cust_src is not None and cust_bad.reasons:
        stages = dict.fromkeys(cust_bad.reasons, "import")
        cq_frames.append(_quarantine_frame(cust_src, cust_bad.reasons, stages))
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
    return cq_frames


def _count_reasons(
    report: ImportReport, bad: Rejections, customer_frames: list[pd.DataFrame]
) -> None:
    """Quarantined rows per ``table:reason`` (duplicates are counted apart)."""
    for reason in (r for rs in bad.reasons.values() for r in rs):
        if reason != "duplicate_row":
            key = f"invoices:{reason}"
            report.reasons[key] = report.reasons.get(key, 0) + 1
    for frame in customer_frames:
        for reasons in frame[REASON_COL]:
            for reason in str(reasons).split(";"):
                if reason != "duplicate_row":
                    key = f"customers:{reason}"
                    report.reasons[key] = report.reasons.get(key, 0) + 1


def _final_counts(report: ImportReport, mp: Mapping, result: ValidatedFrames) -> None:
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


def _write_outputs(
    out_dir: Path, result: ValidatedFrames, report: ImportReport, notes: list[str]
) -> None:
    """The clean tables and ``import_report.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("invoices", "customers"):
        path = out_dir / f"{name}.csv"
        result.tables[name].to_csv(path, index=False, date_format="%Y-%m-%d", lineterminator="\n")
        report.files[name] = str(path)
    report.notes = notes
    report_path = out_dir / REPORT_FILE
    report.files["report"] = str(report_path)
    report_path.write_text(
        json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )


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
    src, out_dir = Path(src), Path(out_dir)
    mp, mapping_name = _resolve_mapping(mapping)
    if not src.exists():
        raise MappingError(f"{src}: source not found")
    src_folder = src if src.is_dir() else src.parent
    if out_dir.resolve() == src_folder.resolve():
        raise MappingError(f"{out_dir}: the output folder must not be the source's folder")
    notes: list[str] = []
    report = ImportReport(str(src), mapping_name, str(out_dir))

    inv = _import_invoices(src, mp, notes)
    cust_src, customers, cust_bad = _import_customers(src, mp, inv, report, notes)
    result = _validate(inv, customers, default_currency, report, notes)

    qdir = out_dir / QUARANTINE_DIR
    qdir.mkdir(parents=True, exist_ok=True)
    for stale in qdir.glob("*.csv"):
        stale.unlink()
    _quarantine_invoices(inv, result, qdir, report)
    customer_frames = _quarantine_customers(cust_src, cust_bad, result, mp, qdir, report)
    _count_reasons(report, inv.bad, customer_frames)

    _final_counts(report, mp, result)
    _currency_notes(result.tables["invoices"], default_currency, notes)
    _write_outputs(out_dir, result, report, notes)
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
