"""The policy file (DESIGN §6): its pydantic model, loader and one-line validation errors.

A policy file lists segments in order; each segment has rules (any of them matching puts the
customer in the segment) and a policy. The first matching rule wins. ``policy_version`` is
the short hash of the file's canonical content.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from payer_model.data.schema import ALL_RATINGS, CHANNELS
from payer_model.policy.rules import (
    Rule,
    StrictModel,
    check_bands,
    check_rule_fields,
    check_shadowing,
    normalise_rule,
    rule_mask,
    rule_text,
)

DEFAULT_POLICY_FILE = Path("serving/policies.yaml")
TONES: tuple[str, ...] = ("friendly", "neutral", "firm")
STOP_CONDITIONS: tuple[str, ...] = ("payment_confirmed", "dispute_open", "promise_to_pay")
CREDIT_ACTIONS: tuple[str, ...] = (
    "none",
    "review",
    "reduce_limit",
    "hold_new_orders",
    "limit_cap",
)
HUMAN_REVIEW_ACTIONS: frozenset[str] = frozenset({"reduce_limit", "hold_new_orders"})
AUTO = "auto"
"""``channel: auto`` / ``timing: auto``: the step's channel / timing is learned (uplift)."""
AUTO_DEFAULT_OFFSET = 1
"""Offset of a ``timing: auto`` step when no uplift estimate exists (the fallback)."""


class PolicyError(ValueError):
    """A policy file is missing or invalid; the one-line message names the spot."""


class Step(StrictModel):
    """One contact: a channel at an offset in days from the due date (negative = before).

    ``channel: auto`` and/or ``timing: auto`` make the step learned: the uplift model picks
    the channel (among those with a cost in ``chase.costs``) and/or the timing, or no
    reminder when none is worth its cost. A fixed channel or offset is a human override.
    """

    channel: str
    offset_days: int
    timing: str | None = Field(None, description="'auto': the offset is learned")

    @model_validator(mode="before")
    @classmethod
    def _auto_offset(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("timing") and "offset_days" not in data:
            return {**data, "offset_days": AUTO_DEFAULT_OFFSET}
        return data

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, v: str) -> str:
        if v not in (*CHANNELS, AUTO):  # 'auto' (learned) is documented with the step
            raise ValueError(f"unknown channel '{v}' (allowed: {', '.join(CHANNELS)})")
        return v

    @field_validator("timing")
    @classmethod
    def _known_timing(cls, v: str | None) -> str | None:
        if v is not None and v != AUTO:
            raise ValueError(f"timing must be '{AUTO}' or absent, got '{v}'")
        return v

    @property
    def is_auto(self) -> bool:
        """True when the channel or the timing is learned."""
        return AUTO in (self.channel, self.timing)


class Chase(StrictModel):
    """Costs and value of learned chasing (``channel: auto`` / ``timing: auto`` steps).

    An action is worth sending when ``uplift x open amount x value_pct / 100`` exceeds its
    channel's cost (plus ``useless_cost`` x P(paid within 3 days of it anyway) where that
    probability is estimated); among those, the best uplift per unit of cost wins.
    """

    costs: dict[str, float] = Field(description="cost of one contact per channel")
    value_pct: float = Field(
        1.0, gt=0, le=100, description="worth of +1.0 in P(paid within horizon), % of amount"
    )
    horizon_days: int = Field(14, description="uplift horizon: 7 or 14 days")
    useless_cost: float = Field(
        0.0, ge=0, description="goodwill cost of a reminder paid within 3 days anyway"
    )
    fallback_channel: str = Field("email", description="channel of an auto step without a model")

    @field_validator("costs")
    @classmethod
    def _costs(cls, v: dict[str, float]) -> dict[str, float]:
        for ch, cost in v.items():
            if ch not in CHANNELS:
                raise ValueError(f"unknown channel '{ch}' (allowed: {', '.join(CHANNELS)})")
            if not cost > 0:
                raise ValueError(f"{ch}: cost must be > 0, got {cost}")
        if not v:
            raise ValueError("needs a cost for at least one channel")
        return v

    @field_validator("horizon_days")
    @classmethod
    def _horizon(cls, v: int) -> int:
        if v not in (7, 14):
            raise ValueError(f"must be 7 or 14, got {v}")
        return v

    @field_validator("fallback_channel")
    @classmethod
    def _fallback(cls, v: str) -> str:
        if v not in CHANNELS:
            raise ValueError(f"unknown channel '{v}' (allowed: {', '.join(CHANNELS)})")
        return v


class BandStep(Step):
    """An extra contact for open invoices in some P(late) bands (e.g. pre-due for High).

    Sent at ``offset_days`` from the due date (negative = before) when that date is not
    past, in addition to the ``sequence`` (not counted against ``max_reminders``); invoices
    without an invoice-model band never get it.
    """

    bands: list[str]

    @field_validator("bands")
    @classmethod
    def _known_bands(cls, v: list[str]) -> list[str]:
        return check_bands(v)


class Escalation(StrictModel):
    """Hand the case to someone, carrying the payment history and a suggested next step."""

    to: str
    offset_days: int
    with_history: bool = True
    next_step: str


class Incentives(StrictModel):
    """Commercial levers offered to the segment."""

    early_payment_discount_pct: float | None = Field(None, ge=0, le=100)
    early_payment_days: int | None = Field(None, ge=0)
    payment_plan: bool = False
    late_fee_pct: float | None = Field(None, ge=0, le=100)


class CreditPolicy(StrictModel):
    """What happens to the credit line, and why."""

    action: str = "none"
    reduce_limit_pct: float | None = Field(None, gt=0, le=100)
    hold_when: Rule | None = None
    limit_cap: float | None = Field(None, ge=0)
    may_raise_limit_on_review: bool = False
    reason: str

    @field_validator("action")
    @classmethod
    def _known_action(cls, v: str) -> str:
        if v not in CREDIT_ACTIONS:
            raise ValueError(f"unknown credit action '{v}' (allowed: {', '.join(CREDIT_ACTIONS)})")
        return v

    @field_validator("hold_when", mode="before")
    @classmethod
    def _norm(cls, v: Any) -> Any:
        return normalise_rule(v) if v is not None else None

    @field_validator("hold_when")
    @classmethod
    def _fields(cls, v: Rule | None) -> Rule | None:
        check_rule_fields(v or {})
        return v

    @model_validator(mode="after")
    def _consistent(self) -> CreditPolicy:
        if self.action == "reduce_limit" and self.reduce_limit_pct is None:
            raise ValueError("reduce_limit needs reduce_limit_pct")
        if self.action == "limit_cap" and self.limit_cap is None:
            raise ValueError("limit_cap needs limit_cap")
        return self


class Policy(StrictModel):
    """How one segment is treated."""

    tone: str
    tone_by_industry: dict[str, str] = Field(default_factory=dict)
    sequence: list[Step]
    max_reminders: int = Field(ge=0)
    stop_on: list[str] = Field(default_factory=lambda: list(STOP_CONDITIONS))
    promise_days: int = Field(14, ge=0, description="a promise to pay holds this many days")
    escalation: list[Escalation] = Field(default_factory=list)
    band_steps: list[BandStep] = Field(
        default_factory=list, description="extra contacts by invoice P(late) band"
    )
    incentives: Incentives = Field(default_factory=Incentives)
    credit: CreditPolicy
    review_every_days: int = Field(gt=0)

    @field_validator("tone")
    @classmethod
    def _tone(cls, v: str) -> str:
        if v not in TONES:
            raise ValueError(f"unknown tone '{v}' (allowed: {', '.join(TONES)})")
        return v

    @field_validator("tone_by_industry")
    @classmethod
    def _tones(cls, v: dict[str, str]) -> dict[str, str]:
        for t in v.values():
            cls._tone(t)
        return v

    @field_validator("stop_on")
    @classmethod
    def _stops(cls, v: list[str]) -> list[str]:
        for s in v:
            if s not in STOP_CONDITIONS:
                raise ValueError(
                    f"unknown stop condition '{s}' (allowed: {', '.join(STOP_CONDITIONS)})"
                )
        return v

    @field_validator("sequence")
    @classmethod
    def _ordered(cls, v: list[Step]) -> list[Step]:
        offsets = [s.offset_days for s in v]
        if offsets != sorted(offsets):
            raise ValueError(f"sequence offsets must be in increasing order, got {offsets}")
        return v

    def tone_for(self, industry: Any) -> str:
        """Tone, overridden per industry where the policy says so."""
        return self.tone_by_industry.get(str(industry), self.tone)


class Segment(StrictModel):
    """A named segment: rules (any matches) and the policy applied to its members."""

    name: str
    description: str = ""
    rules: list[Rule]
    policy: Policy

    @field_validator("rules", mode="before")
    @classmethod
    def _norm(cls, v: Any) -> Any:
        return [normalise_rule(r) for r in v] if isinstance(v, list) else v

    @field_validator("rules")
    @classmethod
    def _fields(cls, v: list[Rule]) -> list[Rule]:
        for j, rule in enumerate(v):
            try:
                check_rule_fields(rule)
            except ValueError as exc:
                raise ValueError(f"rules[{j}]: {exc}") from None
            rating = rule.get("rating")
            for val in (
                [rating.eq]
                if rating and rating.eq is not None
                else (rating.in_ or [] if rating else [])
            ):
                if val not in ALL_RATINGS:
                    raise ValueError(
                        f"rules[{j}].rating: unknown rating '{val}' "
                        f"(allowed: {', '.join(ALL_RATINGS)})"
                    )
        return v


class PolicySet(StrictModel):
    """The whole policy file; ``policy_version`` is the short hash of its canonical content."""

    version: int = 1
    default_segment: str
    unrated_p_bad: float = Field(0.2, ge=0, le=1, description="P(bad) used for unrated")
    segments: list[Segment] = Field(min_length=1)
    chase: Chase | None = Field(None, description="costs of learned (auto) steps")
    _version: str = PrivateAttr("")

    @property
    def policy_version(self) -> str:
        """Short sha256 of the canonical file content (comments and key order ignored)."""
        return self._version or _content_hash(self.model_dump(mode="json", by_alias=True))

    @model_validator(mode="after")
    def _segments(self) -> PolicySet:
        names = [s.name for s in self.segments]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate segment name '{dupes[0]}'")
        if self.default_segment not in names:
            raise ValueError(
                f"default_segment '{self.default_segment}' is not a segment "
                f"(segments: {', '.join(names)})"
            )
        check_shadowing(self.segments)
        for i, seg in enumerate(self.segments):
            for j, step in enumerate(seg.policy.sequence):
                if not step.is_auto:
                    continue
                where = f"segments[{i}].policy.sequence[{j}]"
                if self.chase is None:
                    raise ValueError(
                        f"{where}: '{AUTO}' needs a top-level 'chase' section with costs "
                        "per channel"
                    )
                if step.channel != AUTO and step.channel not in self.chase.costs:
                    raise ValueError(f"{where}: channel '{step.channel}' has no chase.costs entry")
        return self

    def segment(self, name: str) -> Segment:
        """Segment by name."""
        for s in self.segments:
            if s.name == name:
                return s
        raise KeyError(f"no segment '{name}'")

    def match(self, row: Mapping[str, Any]) -> tuple[Segment, str]:
        """First matching segment for one customer row, and the rule's spot and text."""
        for i, seg in enumerate(self.segments):
            for j, rule in enumerate(seg.rules):
                if all(c.matches(row.get(f)) for f, c in rule.items()):
                    return seg, f"segments[{i}].rules[{j}]: {rule_text(rule)}"
        return self.segment(self.default_segment), "default_segment"

    def assign(self, frame: pd.DataFrame) -> pd.Series:
        """Vectorised segment names for a frame of customers (first match wins)."""
        out = pd.Series(self.default_segment, index=frame.index, dtype=object)
        todo = pd.Series(True, index=frame.index)
        for seg in self.segments:
            for rule in seg.rules:
                m = todo & rule_mask(rule, frame)
                out[m] = seg.name
                todo &= ~m
        return out


def _content_hash(data: Any) -> str:
    canon = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canon.encode()).hexdigest()[:12]


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _format_error(exc: ValidationError) -> str:
    errors = exc.errors()
    # A typo'd key also makes the right key "missing"; the typo is the useful message.
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(first["loc"])
    if first["type"] == "extra_forbidden":
        return f"{_loc(loc[:-1]) or '<top>'}: unknown key '{loc[-1]}'"
    msg = first["msg"].removeprefix("Value error, ")
    if loc and isinstance(loc[-1], str) and msg.startswith(f"{loc[-1]}["):
        # validators of lists name the item themselves ("rules[0]: ...")
        return f"{_loc(loc[:-1])}.{msg}" if len(loc) > 1 else msg
    return f"{_loc(loc)}: {msg}" if loc else msg


def parse_policies(raw: Any, source: str = "<policies>") -> PolicySet:
    """Validate already-parsed YAML; :class:`PolicyError` names the spot in one line."""
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{source}: expected a mapping with 'segments'")
    try:
        ps = PolicySet.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError(f"{source}: {_format_error(exc)}") from None
    ps._version = _content_hash(raw)
    return ps


def load_policies(path: str | Path = DEFAULT_POLICY_FILE) -> PolicySet:
    """Load and validate a policy file.

    Raises:
        PolicyError: missing file, bad YAML, unknown key/channel/tone, shadowed rule, ...
    """
    p = Path(path)
    if not p.exists():
        raise PolicyError(f"policy file not found: {p}")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise PolicyError(f"{p}:{where} not valid YAML") from None
    return parse_policies(raw, str(p))


def policy_summary(seg: Segment) -> dict[str, Any]:
    """Plain-JSON summary of a segment's policy (what ``policy show`` and a decision carry)."""
    p = seg.policy
    return {
        "name": seg.name,
        "tone": p.tone,
        "sequence": [
            f"{s.channel} {AUTO if s.timing == AUTO else f'{s.offset_days:+d}'}"
            for s in p.sequence
        ],
        "max_reminders": p.max_reminders,
        "stop_on": list(p.stop_on),
        "escalation": [f"{e.to} {e.offset_days:+d}" for e in p.escalation],
        "incentives": p.incentives.model_dump(exclude_none=True),
        "credit_action": p.credit.action,
        "review_every_days": p.review_every_days,
    }
