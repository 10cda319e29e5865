"""Why a subscriber has their value: the stored result of the last value run and the evidence behind
it (orders of the lookback, the cut points of each score, the segment rule, the ABC position, the
inputs of the lifetime value), as plain values for `mailseg explain`, the panel and the JSON API."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..config import ValueConfig
from ..engagement.window import window_bounds
from ..models import UNCOUNTED_ORDER_STATUSES, Event, SubscriberValue
from .model import latest_model, model_parameters
from .segments import QUADRANT_ACTIONS, SEGMENT_ACTIONS, parse_rfm_segments, segment_of

ORDERS_SHOWN = 20


@dataclass
class OrderEvidence:
    occurred_at: datetime
    amount: Decimal | None
    order_id: str | None
    status: str | None
    counted: bool  # not cancelled nor refunded: feeds the lifetime value
    in_lookback: bool  # and, when counted, RFM and ABC


@dataclass
class ScoreEvidence:
    letter: str  # R, F or M
    score: int
    value: float
    # The range of the figure among the audience's customers with the same score (the cut points).
    low: float
    high: float


@dataclass
class ValueExplanation:
    subscriber_id: int
    as_of: datetime | None = None  # of the stored values; None: never valued
    lookback_start: datetime | None = None
    frequency: int = 0
    monetary: Decimal = Decimal("0")
    recency_days: int | None = None
    scores: list[ScoreEvidence] = field(default_factory=list)
    rfm_segment: str | None = None
    segment_rule: str | None = None
    segment_action: str | None = None
    abc_class: str | None = None
    abc_share_before: float | None = None
    abc_share_after: float | None = None
    repeat_days: int | None = None
    t_x_weeks: float | None = None
    t_weeks: float | None = None
    margin_rate: float | None = None
    p_alive: float | None = None
    expected_orders: float | None = None
    expected_order_value: float | None = None
    clv: float | None = None
    quadrant: str | None = None
    quadrant_action: str | None = None
    model: dict | None = None
    orders: list[OrderEvidence] = field(default_factory=list)

    def as_dict(self) -> dict:
        """JSON-ready (the API's `value.explanation`)."""
        def plain(v):
            if isinstance(v, datetime):
                return v.isoformat()
            if isinstance(v, Decimal):
                return float(v)
            return v
        out = {k: plain(v) for k, v in self.__dict__.items() if k not in ("scores", "orders", "subscriber_id")}
        out["scores"] = [dict(s.__dict__) for s in self.scores]
        out["orders"] = [{k: plain(v) for k, v in o.__dict__.items()} for o in self.orders]
        return out


def explain_value(session: Session, subscriber_id: int, settings: ValueConfig, *,
                  as_of: datetime | None = None) -> ValueExplanation:
    """The stored value of a subscriber with its evidence; empty when no value run covered them yet.
    With `as_of`: the value as of that moment, computed as a run at that moment would (asof.py)."""
    if as_of is not None:
        return _explain_as_of(session, subscriber_id, settings, as_of)
    ex = ValueExplanation(subscriber_id)
    stored = session.get(SubscriberValue, subscriber_id)
    if stored is None:
        return ex
    for name in ("as_of", "frequency", "monetary", "recency_days", "rfm_segment", "abc_class", "abc_share_before",
                 "repeat_days", "t_x_weeks", "t_weeks", "margin_rate", "p_alive", "expected_orders",
                 "expected_order_value", "clv", "quadrant"):
        setattr(ex, name, getattr(stored, name))
    ex.lookback_start, _ = window_bounds(stored.as_of, settings.lookback_months)
    if stored.r_score is not None:
        ex.scores = _score_evidence(session, stored)
        _, rule = segment_of(parse_rfm_segments(settings.rfm_segments), stored.r_score, stored.f_score, stored.m_score)
        ex.segment_rule = f"{rule.name} {rule.describe()}" if rule else None
        if stored.abc_share_before is not None:
            total = _audience_revenue(session, stored.audience_id)
            ex.abc_share_after = stored.abc_share_before + (float(stored.monetary) / total if total else 0)
    ex.segment_action = SEGMENT_ACTIONS.get(stored.rfm_segment)
    ex.quadrant_action = QUADRANT_ACTIONS.get(stored.quadrant or "")
    model = latest_model(session, stored.audience_id)
    ex.model = model_parameters(model) if model is not None and stored.clv is not None else None
    ex.orders = _orders(session, subscriber_id, ex.lookback_start, stored.as_of)
    return ex


def _explain_as_of(session: Session, subscriber_id: int, settings: ValueConfig, as_of: datetime) -> ValueExplanation:
    from .asof import value_as_of

    fields = value_as_of(session, subscriber_id, settings, as_of)
    ex = ValueExplanation(subscriber_id)
    for name, value in fields.items():
        if name not in ("scores", "model"):
            setattr(ex, name, value)
    ex.lookback_start, ex.as_of = window_bounds(fields["as_of"], settings.lookback_months)
    ex.scores = [ScoreEvidence(letter, score, float(value), float(low), float(high))
                 for letter, (score, value, low, high) in fields["scores"].items()]
    if ex.scores:
        scores = {s.letter: s.score for s in ex.scores}
        ex.rfm_segment, rule = segment_of(parse_rfm_segments(settings.rfm_segments), scores["R"], scores["F"], scores["M"])
        ex.segment_rule = f"{rule.name} {rule.describe()}" if rule else None
    ex.segment_action = SEGMENT_ACTIONS.get(ex.rfm_segment or "")
    ex.quadrant_action = QUADRANT_ACTIONS.get(ex.quadrant or "")
    ex.model = fields["model"] if ex.clv is not None else None
    ex.orders = _orders(session, subscriber_id, ex.lookback_start, ex.as_of)
    return ex


def _score_evidence(session: Session, stored: SubscriberValue) -> list[ScoreEvidence]:
    """Named query "score cut points": per score, the lowest and highest figure among the audience's
    customers holding it (from the stored values: one indexed pass over the audience)."""
    out = []
    v = SubscriberValue
    for letter, score_column, figure, score in (("R", v.r_score, v.recency_days, stored.r_score),
                                                ("F", v.f_score, v.frequency, stored.f_score),
                                                ("M", v.m_score, v.monetary, stored.m_score)):
        low, high = session.execute(select(func.min(figure), func.max(figure))
                                    .where(v.audience_id == stored.audience_id, score_column == score)).one()
        value = {"R": stored.recency_days, "F": stored.frequency, "M": stored.monetary}[letter]
        out.append(ScoreEvidence(letter, score, float(value), float(low), float(high)))
    return out


def _audience_revenue(session: Session, audience_id: int) -> float:
    total = session.scalar(select(func.sum(SubscriberValue.monetary)).where(SubscriberValue.audience_id == audience_id,
                                                                            SubscriberValue.frequency > 0))
    return float(total or 0)


def _orders(session: Session, subscriber_id: int, lookback_start: datetime, as_of: datetime) -> list[OrderEvidence]:
    rows = session.execute(
        select(Event.occurred_at, Event.amount, Event.order_id, Event.order_status)
        .where(Event.subscriber_id == subscriber_id, Event.type == "purchase", Event.occurred_at <= as_of)
        .order_by(Event.occurred_at.desc()).limit(ORDERS_SHOWN)).all()
    out = []
    for at, amount, order_id, status in rows:
        out.append(OrderEvidence(at, amount, order_id, status, status not in UNCOUNTED_ORDER_STATUSES,
                                 at > lookback_start))
    return out
