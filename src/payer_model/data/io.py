"""Reading contract files: discovery, encoding and delimiter sniffing, the three readers.

:func:`find_table_files` locates ``<table>.<csv|csv.gz|tsv|parquet|pq|xlsx>`` in a data
folder; :func:`read_table` reads one file into a frame of stripped strings (CSV, ``.xlsx``) or
typed columns (Parquet) with a ``_row`` column of source line numbers, and marks CSV lines with
a wrong field count (``_read_error``, ``_extra``) instead of failing on them.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from payer_model.data.report import ContractError
from payer_model.data.schema import EXTRA_COL, READ_ERROR_COL, ROW_COL, TABLES

__all__ = ["find_table_files", "header_names", "normalise_header", "read_table"]

_DELIMITERS = (",", ";", "\t", "|")
_SUFFIX_RANK = {".parquet": 0, ".pq": 0, ".csv": 1, ".csv.gz": 2, ".tsv": 3, ".xlsx": 4}
_IGNORED_FILES = {
    "truth": "evaluation-only file of the synthetic generator",
    "chase_truth": "evaluation-only file of the synthetic generator",
    "chase_log": "decision log of a randomised chasing experiment (policy evaluate reads it)",
}


def normalise_header(name: object) -> str:
    """A header as the contract names it: no BOM, stripped, lower-case, blanks as ``_``."""
    return re.sub(r"\s+", "_", str(name).replace("\ufeff", "").strip().lower())


def _split_suffix(name: str) -> tuple[str, str] | None:
    low = name.lower()
    for suffix in sorted(_SUFFIX_RANK, key=len, reverse=True):
        if low.endswith(suffix) and len(low) > len(suffix):
            return low[: -len(suffix)], suffix
    return None


def _candidates(folder: Path, notes: list[str]) -> dict[str, list[tuple[int, Path]]]:
    """Contract files of a folder per table, as (format rank, path); notes the others."""
    candidates: dict[str, list[tuple[int, Path]]] = {}
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
    return candidates


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
    notes: list[str] = []
    candidates = _candidates(folder, notes)
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


def header_names(raw_header: list[str], name: str) -> list[str]:
    """Normalised header names (``unnamed_<i>`` for blanks).

    Raises:
        ContractError: If a name appears twice after normalisation.
    """
    names = [normalise_header(h) for h in raw_header]
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


def _fit_record(record: list[str], width: int, delim: str) -> tuple[list[str], str, str]:
    """A CSV record cut or padded to the header width: (fields, read error, surplus text).

    Surplus fields that are all blank (trailing delimiters) are dropped silently.
    """
    if len(record) > width:
        surplus = record[width:]
        if any(f.strip() for f in surplus):
            return record[:width], "wrong_field_count", delim.join(surplus)
        return record[:width], "", ""
    if len(record) < width:
        return record + [""] * (width - len(record)), "wrong_field_count", ""
    return record, "", ""


def _csv_frame(
    header: list[str], records: list[tuple[int, list[str], str, str]], name: str, notes: list[str]
) -> pd.DataFrame:
    """The frame of the parsed records (line, fields, read error, surplus) of a CSV file."""
    rows = [fields for _, fields, _, _ in records]
    errors = [error for _, _, error, _ in records]
    frame = (
        pd.DataFrame(rows, columns=header, dtype=object)
        if rows
        else pd.DataFrame({h: pd.Series([], dtype=object) for h in header})
    )
    frame = frame.astype(str).apply(lambda s: s.str.strip())
    frame = _drop_empty_unnamed(frame, name, notes)
    frame[ROW_COL] = np.asarray([line for line, _, _, _ in records], dtype=np.int64)
    if any(errors):
        extras = [extra for _, _, _, extra in records]
        frame[READ_ERROR_COL] = pd.Series(errors, dtype=object).astype(str).to_numpy()
        frame[EXTRA_COL] = pd.Series(extras, dtype=object).astype(str).to_numpy()
        notes.append(f"{name}: {sum(bool(e) for e in errors)} line(s) with a wrong field count")
    return frame


def _read_csv_text(text: str, name: str) -> tuple[pd.DataFrame, list[str]]:
    notes: list[str] = []
    delim = _sniff_delimiter(text)
    if delim != ",":
        notes.append(f"{name}: delimiter {delim!r}")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    header: list[str] | None = None
    records: list[tuple[int, list[str], str, str]] = []
    blank = 0
    prev_line = 0
    try:
        for record in reader:
            start, prev_line = prev_line + 1, reader.line_num
            if not "".join(record).strip():
                blank += header is not None
                continue
            if header is None:
                header = header_names(record, name)
                continue
            records.append((start, *_fit_record(record, len(header), delim)))
    except csv.Error as exc:
        raise ContractError(f"{name}: unreadable CSV near line {prev_line + 1}: {exc}") from None
    if header is None:
        return pd.DataFrame(), notes
    if blank:
        notes.append(f"{name}: skipped {blank} blank line(s)")
    return _csv_frame(header, records, name, notes), notes


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
    frame.columns = header_names(list(frame.columns), file.name)
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
    header = header_names(frame.iloc[first].tolist(), file.name)
    body = frame.iloc[first + 1 :]
    keep = nonblank[first + 1 :]
    if (~keep).any():
        notes.append(f"{file.name}: skipped {int((~keep).sum())} blank row(s)")
    out = pd.DataFrame(body.to_numpy()[keep], columns=header).astype(str)
    out = _drop_empty_unnamed(out, file.name, notes)
    out[ROW_COL] = (np.flatnonzero(keep) + first + 2).astype(np.int64)
    return out, notes
