"""Value parsing of the data contract and the importers: text, dates, numbers, booleans.

The one place where source values become typed values. The contract's rules (year-first
dates, locale-aware numbers with a per-table decimal convention, booleans; see
:mod:`payer_model.data.contract`) are :func:`parse_dates`, :func:`parse_number_columns` and
:func:`parse_booleans`; the importers' mapped formats (``strptime`` patterns, ``yyyymmdd``,
Excel serials, detected formats; explicit decimal marks) are :func:`parse_formatted_dates`
and :func:`normalise_number`. Every column is first seen as text through :func:`to_text`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from payer_model.config import plausible_date_window
from payer_model.data.schema import DATE_DTYPE

__all__ = [
    "DateFormatError",
    "ImplausibleDateError",
    "blank_as_na",
    "check_plausible_date",
    "iso_dates",
    "normalise_number",
    "parse_booleans",
    "parse_dates",
    "parse_formatted_dates",
    "parse_number_columns",
    "to_number",
    "to_text",
    "to_token",
]

_BOOL_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_BOOL_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0", ""})


class ImplausibleDateError(ValueError):
    """A date outside the plausible window; ``str(e)`` names the field and the window."""


def check_plausible_date(
    value: dt.date | None, field: str, *, window: tuple[dt.date, dt.date] | None = None
) -> None:
    """Refuse a business date outside :func:`payer_model.config.plausible_date_window`.

    The one plausible-date rule: the API's IO models, the contract and the importers (via
    :func:`parse_dates`) and live events call it. None passes (optional dates).

    Raises:
        ImplausibleDateError: ``value`` is before the earliest or after the latest date.
    """
    if value is None:
        return
    lo, hi = window or plausible_date_window()
    if isinstance(value, dt.datetime):
        value = value.date()
    if not lo <= value <= hi:
        raise ImplausibleDateError(
            f"{field}: {value.isoformat()} is outside the plausible dates "
            f"{lo.isoformat()} .. {hi.isoformat()} (1990 to one year from today)"
        )


class DateFormatError(ValueError):
    """A date column does not fit its (given or detected) format; ``str(e)`` is one line."""


# ----------------------------------------------------------------------------------- text


def _fmt_scalar(x: object, dates_only: bool = False) -> str:  # noqa: PLR0911 - one branch per value kind
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
    if dates_only and isinstance(x, pd.Timestamp):
        return x.strftime("%Y-%m-%d")
    if isinstance(x, dt.datetime):
        return x.isoformat(sep=" ")
    if isinstance(x, Decimal) and x.is_nan():
        return ""
    return str(x).strip()


def to_text(s: pd.Series, *, dates_only: bool = False) -> pd.Series:
    """A column as stripped strings with '' for missing, whatever its dtype.

    Args:
        s: The column.
        dates_only: Write timestamps as ``yyyy-mm-dd`` (the importers' view) instead of
            ``yyyy-mm-dd HH:MM:SS``.
    """
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        fmt = "%Y-%m-%d" if dates_only else "%Y-%m-%d %H:%M:%S"
        out = s.dt.strftime(fmt).astype(object).where(s.notna(), "")
    elif isinstance(s.dtype, pd.StringDtype):
        out = s.astype(object).where(s.notna(), "")
    else:
        out = pd.Series(
            [_fmt_scalar(x, dates_only) for x in s.tolist()], index=s.index, dtype=object
        )
    return out.astype(str).str.strip()


# --------------------------------------------------------------------- contract: dates


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


def parse_dates(
    orig: pd.Series, text: pd.Series, window: tuple[dt.date, dt.date] | None = None
) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Parse a date column.

    Returns:
        Dates at midnight (``datetime64[us]``, NaT when missing or bad), the unparseable
        mask and the out-of-range mask: dates outside the plausible window
        (:func:`payer_model.config.plausible_date_window`, the rule of
        :func:`check_plausible_date`).
    """
    lo, hi = window or plausible_date_window()
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
            years = np.array([int(x[:4]) if x else lo.year for x in ymd])
            far[rest] = (years < lo.year) | (years > hi.year)
            ymd = [None if f else x for x, f in zip(ymd, far[rest], strict=True)]
            slow = pd.to_datetime(pd.Series(ymd, dtype=object), format="%Y%m%d", errors="coerce")
            values[rest] = slow.astype(DATE_DTYPE).to_numpy()
        unparseable = filled & values.isna().to_numpy(bool) & ~far
    plausible = (values >= pd.Timestamp(lo)) & (values <= pd.Timestamp(hi))
    out_of_range = (values.notna() & ~plausible).to_numpy(bool) | far
    values = values.where(~out_of_range)
    return values.astype(DATE_DTYPE).reset_index(drop=True), unparseable, out_of_range


# ------------------------------------------------------------ contract: numbers, flags


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


def parse_number_columns(
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


def parse_booleans(text: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Booleans of a text column (empty = False) and the mask of values that are none."""
    low = text.str.lower()
    values = low.isin(_BOOL_TRUE).to_numpy(bool)
    bad = ~(values | low.isin(_BOOL_FALSE).to_numpy(bool))
    return pd.Series(values, dtype=bool), bad


def to_token(text: pd.Series) -> pd.Series:
    """Lower-case, inner blanks and dashes as '_' (``Sole Trader`` -> ``sole_trader``)."""
    return text.str.lower().str.replace(r"[\s\-]+", "_", regex=True)


def blank_as_na(text: pd.Series) -> pd.Series:
    """Text with '' as missing."""
    return text.where(text.ne(""))


# ---------------------------------------------------------- importers: mapped formats


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


def parse_formatted_dates(text: pd.Series, fmt: str | None, label: str) -> tuple[pd.Series, str]:
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
                raise DateFormatError(
                    f"{label}: dates like {sample.iloc[0]!r} fit both {a} and {b}; "
                    "set a format in the mapping"
                )
        fmt = next(f for f in _AUTO_FORMATS if counts[f] == best)
    try:
        dates = _try_format(text, fmt)
    except ValueError as exc:
        raise DateFormatError(f"{label}: bad date format {fmt!r} ({exc})") from None
    bad = filled & dates.isna()
    if int(bad.sum()) > _FAIL_SHARE * n:
        raise DateFormatError(
            f"{label}: {int(bad.sum()):,} of {n:,} values do not match date format {fmt!r}, "
            f"e.g. {text[bad].iloc[0]!r}; fix the format in the mapping"
        )
    return dates.astype("datetime64[ns]"), fmt


def normalise_number(text: pd.Series, decimal: str | None, thousands: str | None) -> pd.Series:
    """Rewrite numbers written with a known decimal mark as plain ``-1234.5`` text."""
    if decimal is None and thousands is None:
        return text
    t = text.str.replace("[\\s\u00a0']", "", regex=True)
    if thousands:
        t = t.str.replace(thousands, "", regex=False)
    if decimal and decimal != ".":
        t = t.str.replace(decimal, ".", regex=False)
    trailing = t.str.endswith("-") & t.str.len().gt(1)
    return t.where(~trailing, "-" + t.str[:-1])


def to_number(text: pd.Series) -> pd.Series:
    """Plain number text as float64 (NaN for empty or unparseable)."""
    return pd.to_numeric(text.where(text.ne(""), None), errors="coerce").astype("float64")


def iso_dates(dates: pd.Series) -> pd.Series:
    """Dates as ``yyyy-mm-dd`` text, '' for NaT."""
    return dates.dt.strftime("%Y-%m-%d").astype(object).where(dates.notna(), "").astype(str)
