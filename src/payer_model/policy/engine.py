"""Segment policies (DESIGN §6): the policy file model, its loader, and the decision engine.

A policy file lists segments in order; each segment has rules (any of them matching puts the
customer in the segment) and a policy. The first matching rule wins. Rules read the rating,
the class probabilities and any feature column of :func:`payer_model.features.compute`.

The engine, :func:`decide`, answers for one customer, its invoices and its rating as of T:
the segment, the policy, the next actions with their dates (skipping reminders already sent,
stopping on payment, dispute or promise to pay), a credit action with reasons, and a worklist
priority ``P(bad) x overdue balance``. Credit holds and limit reductions for natural persons
are never automatic: they come back with ``requires_human_review``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from payer_model.data.schema import ALL_RATINGS, CHANNELS, NATURAL_PERSON_TYPES
from payer_model.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES

log = logging.getLogger(__name__)

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
RULE_FIELDS: frozenset[str] = frozenset(
    {"rating", "p_good", "p_average", "p_bad", "score", *NUMERIC_FEATURES, *CATEGORICAL_FEATURES}
)
"""Columns a rule may read: rating, probabilities, score and every feature column."""


class PolicyError(ValueError):
    """A policy file is missing or invalid; the one-line message names the spot."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --------------------------------------------------------------------------- conditions
class Cond(_Strict):
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


def _normalise_rule(raw: Any) -> Any:
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


# --------------------------------------------------------------------------- policy model
class Step(_Strict):
    """One contact: a channel at an offset in days from the due date (negative = before)."""

    channel: str
    offset_days: int

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, v: str) -> str:
        if v not in CHANNELS:
            raise ValueError(f"unknown channel '{v}' (allowed: {', '.join(CHANNELS)})")
        return v


class Escalation(_Strict):
    """Hand the case to someone, carrying the payment history and a suggested next step."""

    to: str
    offset_days: int
    with_history: bool = True
    next_step: str


class Incentives(_Strict):
    """Commercial levers offered to the segment."""

    early_payment_discount_pct: float | None = Field(None, ge=0, le=100)
    early_payment_days: int | None = Field(None, ge=0)
    payment_plan: bool = False
    late_fee_pct: float | None = Field(None, ge=0, le=100)


class CreditPolicy(_Strict):
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
        return _normalise_rule(v) if v is not None else None

    @field_validator("hold_when")
    @classmethod
    def _fields(cls, v: Rule | None) -> Rule | None:
        _check_fields(v or {})
        return v

    @model_validator(mode="after")
    def _consistent(self) -> CreditPolicy:
        if self.action == "reduce_limit" and self.reduce_limit_pct is None:
            raise ValueError("reduce_limit needs reduce_limit_pct")
        if self.action == "limit_cap" and self.limit_cap is None:
            raise ValueError("limit_cap needs limit_cap")
        return self


class Policy(_Strict):
    """How one segment is treated."""

    tone: str
    tone_by_industry: dict[str, str] = Field(default_factory=dict)
    sequence: list[Step]
    max_reminders: int = Field(ge=0)
    stop_on: list[str] = Field(default_factory=lambda: list(STOP_CONDITIONS))
    promise_days: int = Field(14, ge=0, description="a promise to pay holds this many days")
    escalation: list[Escalation] = Field(default_factory=list)
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


def _check_fields(rule: Mapping[str, Any]) -> None:
    for field in rule:
        if field not in RULE_FIELDS:
            raise ValueError(
                f"unknown field '{field}' (a rule reads rating, p_good, p_average, p_bad, "
                f"score or a feature column such as overdue_amt, tenure_days)"
            )


class Segment(_Strict):
    """A named segment: rules (any matches) and the policy applied to its members."""

    name: str
    description: str = ""
    rules: list[Rule]
    policy: Policy

    @field_validator("rules", mode="before")
    @classmethod
    def _norm(cls, v: Any) -> Any:
        return [_normalise_rule(r) for r in v] if isinstance(v, list) else v

    @field_validator("rules")
    @classmethod
    def _fields(cls, v: list[Rule]) -> list[Rule]:
        for j, rule in enumerate(v):
            try:
                _check_fields(rule)
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


class PolicySet(_Strict):
    """The whole policy file; ``policy_version`` is the short hash of its canonical content."""

    version: int = 1
    default_segment: str
    unrated_p_bad: float = Field(0.2, ge=0, le=1, description="P(bad) used for unrated")
    segments: list[Segment] = Field(min_length=1)
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
        _check_shadowing(self.segments)
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


def _subsumes(earlier: Rule, later: Rule) -> bool:
    """Whether every row matched by ``later`` is also matched by ``earlier`` (syntactically)."""
    return all(f in later and later[f] == c for f, c in earlier.items())


def _check_shadowing(segments: list[Segment]) -> None:
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


# --------------------------------------------------------------------------- loading
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


# --------------------------------------------------------------------------- engine
class Action(BaseModel):
    """One planned action."""

    date: date
    kind: Literal["reminder", "escalation"]
    channel: str | None = None
    to: str | None = None
    tone: str | None = None
    invoice_ids: list[str]
    amount: float = 0.0
    catch_up: bool = False
    next_step: str | None = None
    history: dict[str, Any] | None = None


class CreditDecision(BaseModel):
    """Credit action with its reasons."""

    action: str
    reduce_limit_pct: float | None = None
    current_limit: float | None = None
    new_limit: float | None = None
    automatic: bool = True
    requires_human_review: bool = False
    reasons: list[str]


class Decision(BaseModel):
    """What to do about one customer as of a date."""

    customer_id: str
    as_of: date
    segment: str
    rule: str
    rating: str
    p_bad: float | None
    policy: dict[str, Any]
    tone: str
    next_actions: list[Action]
    stopped: dict[str, str] = Field(default_factory=dict, description="invoice_id -> reason")
    open_amt: float
    overdue_amt: float
    priority: float
    credit: CreditDecision
    requires_human_review: bool
    reasons: list[str]
    policy_version: str


def _get(row: Any, key: str, default: Any = None) -> Any:
    if row is None:
        return default
    try:
        v = row.get(key, default)
    except AttributeError:
        return default
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT:
        return default
    try:
        if pd.isna(v):
            return default
    except (TypeError, ValueError):
        pass
    return v


def _ts(v: Any) -> pd.Timestamp | None:
    if v is None:
        return None
    t = pd.Timestamp(v)
    return None if pd.isna(t) else t.normalize()


def _stop_reason(
    inv: Mapping[str, Any], as_of: pd.Timestamp, policy: Policy, promises: dict[str, pd.Timestamp]
) -> str | None:
    paid = _ts(_get(inv, "paid_date"))
    if "payment_confirmed" in policy.stop_on and paid is not None and paid < as_of:
        return "payment_confirmed"
    disputed = bool(_get(inv, "disputed", False))
    d_date = _ts(_get(inv, "dispute_date"))
    if "dispute_open" in policy.stop_on and disputed and (d_date is None or d_date < as_of):
        return "dispute_open"
    promised = promises.get(str(inv["invoice_id"]))
    if (
        "promise_to_pay" in policy.stop_on
        and promised is not None
        and promised <= as_of < promised + pd.Timedelta(days=policy.promise_days)
    ):
        return "promise_to_pay"
    return None


def _policy_summary(seg: Segment) -> dict[str, Any]:
    p = seg.policy
    return {
        "name": seg.name,
        "tone": p.tone,
        "sequence": [f"{s.channel} {s.offset_days:+d}" for s in p.sequence],
        "max_reminders": p.max_reminders,
        "stop_on": list(p.stop_on),
        "escalation": [f"{e.to} {e.offset_days:+d}" for e in p.escalation],
        "incentives": p.incentives.model_dump(exclude_none=True),
        "credit_action": p.credit.action,
        "review_every_days": p.review_every_days,
    }


def decide(
    customer: Mapping[str, Any],
    open_invoices: pd.DataFrame,
    rating_row: Mapping[str, Any],
    as_of: date | str | pd.Timestamp,
    policies: PolicySet,
    sent_reminders: pd.DataFrame | None = None,
) -> Decision:
    """Decide segment, next actions, credit action and priority for one customer.

    Args:
        customer: customer row (``customer_id``, ``customer_type``, ``industry``,
            ``credit_limit``, ...); names and emails are never read.
        open_invoices: the customer's invoices that may still be open at ``as_of``
            (``invoice_id``, ``due_date``, ``amount``, optional ``paid_date``, ``disputed``,
            ``dispute_date``, ``document_type``, ``currency``, ``open_amount`` net of
            partial payments); an invoice paid before ``as_of`` stops its sequence.
        rating_row: rating, probabilities and feature values of the customer at ``as_of``.
        as_of: decision date; events on or after it are unknown.
        policies: validated policy set.
        sent_reminders: reminders already sent (``invoice_id``, ``sent_date``, ``channel``,
            optional ``outcome``); only those before ``as_of`` count.

    Returns:
        The :class:`Decision`.
    """
    t = pd.Timestamp(as_of).normalize()
    row = {**dict(customer), **dict(rating_row)}
    seg, rule = policies.match(row)
    pol = seg.policy
    tone = pol.tone_for(_get(row, "industry"))
    rating = str(_get(row, "rating", "unrated"))
    p_bad = _get(row, "p_bad")
    p_bad = float(p_bad) if p_bad is not None else None

    inv = open_invoices if open_invoices is not None else pd.DataFrame()
    if len(inv) and "document_type" in inv.columns:
        inv = inv[inv["document_type"].fillna("invoice") != "credit_note"]
    if len(inv) and "invoice_date" in inv.columns:
        inv = inv[pd.to_datetime(inv["invoice_date"]) < t]
    if len(inv) and "written_off_date" in inv.columns:
        wo = pd.to_datetime(inv["written_off_date"])
        inv = inv[wo.isna() | (wo >= t)]

    sent: dict[str, list[tuple[pd.Timestamp, str]]] = {}
    promises: dict[str, pd.Timestamp] = {}
    if sent_reminders is not None and len(sent_reminders):
        rem = sent_reminders[pd.to_datetime(sent_reminders["sent_date"]) < t]
        outcome = rem["outcome"] if "outcome" in rem.columns else pd.Series(None, index=rem.index)
        for iid, sd, ch, oc in zip(
            rem["invoice_id"].astype(str),
            pd.to_datetime(rem["sent_date"]),
            rem["channel"].astype(str),
            outcome,
            strict=True,
        ):
            sent.setdefault(iid, []).append((sd.normalize(), ch))
            if oc == "promise_to_pay" and (iid not in promises or sd > promises[iid]):
                promises[iid] = sd.normalize()

    currency = "EUR"
    stopped: dict[str, str] = {}
    reminders: dict[tuple[pd.Timestamp, str, bool], list[tuple[str, float]]] = {}
    esc_dates: dict[int, tuple[pd.Timestamp, list[str]]] = {}
    open_amt = overdue_amt = 0.0
    oldest_overdue = 0
    for rec in inv.to_dict("records"):
        iid = str(rec["invoice_id"])
        currency = str(_get(rec, "currency", currency))
        reason = _stop_reason(rec, t, pol, promises)
        paid = _ts(_get(rec, "paid_date"))
        amount = float(_get(rec, "open_amount", rec["amount"]))  # net of partial payments
        if amount <= 0 and reason is None and "payment_confirmed" in pol.stop_on:
            reason = "payment_confirmed"
        due = _ts(rec["due_date"])
        if paid is None or paid >= t:
            open_amt += amount
            if due < t:
                overdue_amt += amount
                oldest_overdue = max(oldest_overdue, (t - due).days)
        if reason:
            stopped[iid] = reason
            continue
        if paid is not None and paid < t:  # paid, and the policy does not list it: still done
            continue
        done = list(sent.get(iid, []))
        budget = pol.max_reminders - len(done)
        pending: list[tuple[pd.Timestamp, Step]] = []
        for step in pol.sequence:
            when = due + pd.Timedelta(days=step.offset_days)
            hit = next((k for k, (_, ch) in enumerate(done) if ch == step.channel), None)
            if hit is not None:
                done.pop(hit)  # this step already went out
                continue
            pending.append((when, step))
        past = [p for p in pending if p[0] < t]
        future = [p for p in pending if p[0] >= t]
        planned: list[tuple[pd.Timestamp, Step, bool]] = []
        if past:  # missed steps collapse into one catch-up contact today
            planned.append((t, past[-1][1], True))
        planned += [(w, s, False) for w, s in future]
        for when, step, catch_up in planned[: max(budget, 0)]:
            reminders.setdefault((when, step.channel, catch_up), []).append((iid, amount))
        for k, esc in enumerate(pol.escalation):
            when = max(due + pd.Timedelta(days=esc.offset_days), t)
            cur = esc_dates.get(k)
            if cur is None or when < cur[0]:
                esc_dates[k] = (when, [iid])
            elif when == cur[0]:
                cur[1].append(iid)

    history = {
        "wmean_days_late": _get(row, "wmean_days_late"),
        "oldest_overdue_days": oldest_overdue,
        "overdue_amt": round(overdue_amt, 2),
        "open_amt": round(open_amt, 2),
        "reminders_sent": sum(len(v) for v in sent.values()),
        "disputes_open": sum(1 for r in stopped.values() if r == "dispute_open"),
    }
    actions = [
        Action(
            date=w.date(),
            kind="reminder",
            channel=ch,
            tone=tone,
            catch_up=cu,
            invoice_ids=[i for i, _ in items],
            amount=round(sum(a for _, a in items), 2),
        )
        for (w, ch, cu), items in reminders.items()
    ]
    due_now = [k for k, (w, _) in esc_dates.items() if w == t]
    amt_col = "open_amount" if "open_amount" in inv.columns else "amount"
    amounts = (
        dict(zip(inv["invoice_id"].astype(str), inv[amt_col].astype(float), strict=True))
        if len(inv)
        else {}
    )
    for k, (w, ids) in esc_dates.items():
        if w == t and k != max(due_now):
            continue  # several steps overdue at once: only the furthest one is due today
        esc = pol.escalation[k]
        actions.append(
            Action(
                date=w.date(),
                kind="escalation",
                to=esc.to,
                invoice_ids=ids,
                amount=round(sum(amounts.get(i, 0.0) for i in ids), 2),
                next_step=esc.next_step,
                history=history if esc.with_history else None,
            )
        )
    actions.sort(key=lambda a: (a.date, a.kind != "reminder", a.channel or a.to or ""))

    p_for_priority = p_bad if p_bad is not None else policies.unrated_p_bad
    priority = round(p_for_priority * overdue_amt, 2)

    reasons = [f"segment '{seg.name}' by {rule}", f"rating {rating}"]
    if p_bad is not None:
        reasons.append(f"P(bad) {p_bad:.2f}")
    if overdue_amt > 0:
        reasons.append(f"overdue {overdue_amt:,.2f} {currency}, oldest {oldest_overdue} days")
    credit = _credit(customer, row, pol, reasons)
    return Decision(
        customer_id=str(customer["customer_id"]),
        as_of=t.date(),
        segment=seg.name,
        rule=rule,
        rating=rating,
        p_bad=p_bad,
        policy=_policy_summary(seg),
        tone=tone,
        next_actions=actions,
        stopped=stopped,
        open_amt=round(open_amt, 2),
        overdue_amt=round(overdue_amt, 2),
        priority=priority,
        credit=credit,
        requires_human_review=credit.requires_human_review,
        reasons=reasons,
        policy_version=policies.policy_version,
    )


def _credit(
    customer: Mapping[str, Any], row: Mapping[str, Any], pol: Policy, reasons: list[str]
) -> CreditDecision:
    cp = pol.credit
    action = cp.action
    why = [*reasons, cp.reason]
    if cp.hold_when is not None and all(c.matches(row.get(f)) for f, c in cp.hold_when.items()):
        action = "hold_new_orders"
        why.append(f"hold because {rule_text(cp.hold_when)}")
    limit = _get(customer, "credit_limit")
    limit = float(limit) if limit is not None else None
    new_limit = None
    if action == "reduce_limit" and limit is not None:
        new_limit = round(limit * (1 - (cp.reduce_limit_pct or 0) / 100), 2)
    elif action == "limit_cap" and cp.limit_cap is not None:
        new_limit = cp.limit_cap if limit is None else min(limit, cp.limit_cap)
    elif action == "hold_new_orders":
        new_limit = limit
    if action == "none" and cp.may_raise_limit_on_review:
        why.append("limit may be raised at the next review")
    natural = str(_get(customer, "customer_type", "company")) in NATURAL_PERSON_TYPES
    review = action in HUMAN_REVIEW_ACTIONS and natural
    if review:
        why.append(f"{_get(customer, 'customer_type')}: a natural person, so a person decides")
    return CreditDecision(
        action=action,
        reduce_limit_pct=cp.reduce_limit_pct if action == "reduce_limit" else None,
        current_limit=limit,
        new_limit=new_limit,
        automatic=not review,
        requires_human_review=review,
        reasons=why,
    )


def decide_all(
    tables: Mapping[str, pd.DataFrame | None],
    scored: pd.DataFrame,
    as_of: date | str | pd.Timestamp,
    policies: PolicySet,
) -> list[Decision]:
    """Run :func:`decide` for every customer of ``scored`` (ratings merged with features).

    Only invoices unpaid before ``as_of`` and issued before it are passed per customer, so a
    portfolio of a few thousand customers takes seconds.
    """
    t = pd.Timestamp(as_of).normalize()
    inv = tables["invoices"]
    paid = pd.to_datetime(inv["paid_date"]) if "paid_date" in inv.columns else None
    keep = pd.to_datetime(inv["invoice_date"]) < t
    if paid is not None:
        keep &= paid.isna() | (paid >= t)
    open_inv = inv[keep]
    pay = tables.get("payments")
    if pay is not None and len(pay):
        # partial payments received before T reduce what is still owed
        pay = pay[pd.to_datetime(pay["payment_date"]) < t]
        paid_before = pay.groupby(pay["invoice_id"].astype(str))["amount"].sum()
        got = open_inv["invoice_id"].astype(str).map(paid_before).fillna(0.0).to_numpy()
        open_inv = open_inv.assign(open_amount=open_inv["amount"].astype(float) - got)
    by_cust = {str(k): g for k, g in open_inv.groupby(open_inv["customer_id"].astype(str))}
    rem = tables.get("reminders")
    rem_by: dict[str, pd.DataFrame] = {}
    if rem is not None and len(rem):
        rem = rem[pd.to_datetime(rem["sent_date"]) < t]
        rem = rem[rem["invoice_id"].isin(open_inv["invoice_id"])]
        rem_by = {
            str(k): g
            for k, g in rem.groupby(
                rem["invoice_id"]
                .map(dict(zip(open_inv["invoice_id"], open_inv["customer_id"], strict=True)))
                .astype(str)
            )
        }
    cust = tables.get("customers")
    cust_by = (
        {str(r["customer_id"]): r for r in cust.to_dict("records")} if cust is not None else {}
    )
    empty = inv.iloc[:0]
    out = []
    for row in scored.to_dict("records"):
        cid = str(row["customer_id"])
        c = cust_by.get(cid, {"customer_id": cid})
        c = {k: v for k, v in c.items() if k not in ("name", "email")}
        out.append(decide(c, by_cust.get(cid, empty), row, t, policies, rem_by.get(cid)))
    return out
