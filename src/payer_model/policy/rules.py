"""Segment rules: conditions on one column, rules (all conditions hold), and their checks.

A rule maps column names to :class:`Cond`; an empty rule matches everyone. Rules read the
rating, the class probabilities, the score and any feature column of
:func:`payer_model.features.compute`. :func:`rule_mask` evaluates a rule on a frame,
:meth:`Cond.matches` on one value; both agree (a unit test holds them equal).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from payer_model.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES

RULE_FIELDS: frozenset[str] = frozenset(
    {"rating", "p_good", "p_average", "p_bad", "score", *NUMERIC_FEATURES, *CATEGORICAL_FEATURES}
)
"""Columns a rule may read: rating, probabilities, score and every feature column."""

INVOICE_BANDS: tuple[str, ...] = ("Low", "Medium", "High")
"""P(late) bands of the invoice model (``invoice.band_thresholds`` in the training config)."""


def check_bands(bands: Iterable[str]) -> list[str]:
    """The bands of an invoice rule, or ``ValueError`` naming an unknown one."""
    out = list(bands)
    for b in out:
        if b not in INVOICE_BANDS:
            raise ValueError(f"unknown band '{b}' (allowed: {', '.join(INVOICE_BANDS)})")
    if not out:
        raise ValueError("bands must list at least one of " + ", ".join(INVOICE_BANDS))
    return out


def band_matches(bands: Iterable[str], band: Any) -> bool:
    """Whether an invoice with P(late) band ``band`` falls under a rule on ``bands``.

    An invoice without a prediction (no invoice model, or not scored) never matches.
    """
    return isinstance(band, str) and band in set(bands)


class StrictModel(BaseModel):
    """Base of the policy file models: unknown keys are errors, aliases are accepted."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Cond(StrictModel):
    """One condition on one column; all given bounds must hold."""

    eq: str | float | bool | None = None
    in_: list[str | float] | None = Field(None, alias="in")
    not_in: list[str | float] | None = None
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None

    def mask(self, s: pd.Series) -> pd.Series:
        """Vectorised: which values of ``s`` satisfy the condition (missing never does)."""
        m = s.notna()
        if self.eq is not None:
            m &= s == self.eq
        if self.in_ is not None:
            m &= s.isin(self.in_)
        if self.not_in is not None:
            m &= ~s.isin(self.not_in)
        num = None
        if any(v is not None for v in (self.gt, self.gte, self.lt, self.lte)):
            num = pd.to_numeric(s, errors="coerce")
            m &= num.notna()
        if self.gt is not None:
            m &= num > self.gt
        if self.gte is not None:
            m &= num >= self.gte
        if self.lt is not None:
            m &= num < self.lt
        if self.lte is not None:
            m &= num <= self.lte
        return m.fillna(False).astype(bool)

    def matches(self, value: Any) -> bool:
        """Scalar version of :meth:`mask` (pure Python: it runs once per customer)."""
        if value is None or value is pd.NA or value is pd.NaT:
            return False
        if isinstance(value, float) and math.isnan(value):
            return False
        if self.eq is not None and value != self.eq:
            return False
        if self.in_ is not None and value not in self.in_:
            return False
        if self.not_in is not None and value in self.not_in:
            return False
        bounds = (self.gt, self.gte, self.lt, self.lte)
        if all(b is None for b in bounds):
            return True
        try:
            x = float(value)
        except (TypeError, ValueError):
            return False
        return not (
            math.isnan(x)
            or (self.gt is not None and not x > self.gt)
            or (self.gte is not None and not x >= self.gte)
            or (self.lt is not None and not x < self.lt)
            or (self.lte is not None and not x <= self.lte)
        )

    def describe(self, field: str) -> str:
        """Short text, e.g. ``p_bad>=0.5``."""
        parts = []
        for op, sym in (("eq", "="), ("gt", ">"), ("gte", ">="), ("lt", "<"), ("lte", "<=")):
            v = getattr(self, op)
            if v is not None:
                parts.append(f"{field}{sym}{v}")
        if self.in_ is not None:
            parts.append(f"{field} in {list(self.in_)}")
        if self.not_in is not None:
            parts.append(f"{field} not in {list(self.not_in)}")
        return " and ".join(parts)


Rule = dict[str, Cond]


def normalise_rule(raw: Any) -> Any:
    """Shorthand: ``rating: good`` means eq, ``rating: [good, average]`` means in."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        return raw
    out = {}
    for key, val in raw.items():
        if isinstance(val, Mapping):
            out[key] = val
        elif isinstance(val, list):
            out[key] = {"in": val}
        else:
            out[key] = {"eq": val}
    return out


def rule_mask(rule: Rule, frame: pd.DataFrame) -> pd.Series:
    """Rows of ``frame`` matched by ``rule`` (an empty rule matches everything)."""
    m = pd.Series(True, index=frame.index)
    for field, cond in rule.items():
        col = (
            frame[field]
            if field in frame.columns
            else pd.Series(None, index=frame.index, dtype=object)
        )
        m &= cond.mask(col)
    return m


def rule_text(rule: Rule) -> str:
    """Readable rule, ``*`` for a catch-all."""
    return " and ".join(c.describe(f) for f, c in rule.items()) or "*"


def check_rule_fields(rule: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` naming the first column a rule may not read."""
    for field in rule:
        if field not in RULE_FIELDS:
            raise ValueError(
                f"unknown field '{field}' (a rule reads rating, p_good, p_average, p_bad, "
                f"score or a feature column such as overdue_amt, tenure_days)"
            )


def _subsumes(earlier: Rule, later: Rule) -> bool:
    """Whether every row matched by ``later`` is also matched by ``earlier`` (syntactically)."""
    return all(f in later and later[f] == c for f, c in earlier.items())


def check_shadowing(segments: Iterable[Any]) -> None:
    """Raise ``ValueError`` when a rule can never match because an earlier one always does."""
    seen: list[tuple[str, Rule]] = []
    for i, seg in enumerate(segments):
        for j, rule in enumerate(seg.rules):
            spot = f"segments[{i}].rules[{j}]"
            for prev_spot, prev in seen:
                if _subsumes(prev, rule):
                    kind = (
                        "a catch-all"
                        if not prev
                        else "an identical rule"
                        if prev == rule
                        else "a broader rule"
                    )
                    raise ValueError(
                        f"{spot} ({rule_text(rule)}) is never reached: {prev_spot} "
                        f"({rule_text(prev)}) is {kind} that matches first"
                    )
            seen.append((spot, rule))
