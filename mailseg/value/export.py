"""`mailseg export values` and `export value-model`: the stored values and the fitted model as rows."""

from __future__ import annotations

from typing import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Subscriber, SubscriberValue
from .model import latest_model, model_parameters

VALUE_EXPORT_COLUMNS = ("email", "frequency", "monetary", "recency_days", "r_score", "f_score", "m_score",
                        "rfm_segment", "abc_class", "p_alive", "expected_orders", "expected_order_value", "clv",
                        "quadrant")
STREAM_BATCH = 5000


def value_rows(session: Session, audience_id: int) -> Iterator[dict]:
    """Every valued subscriber of the audience, by email; None (empty in CSV) where not applicable."""
    v = SubscriberValue
    stmt = (select(Subscriber.email, v.frequency, v.monetary, v.recency_days, v.r_score, v.f_score, v.m_score,
                   v.rfm_segment, v.abc_class, v.p_alive, v.expected_orders, v.expected_order_value, v.clv, v.quadrant)
            .join(v, v.subscriber_id == Subscriber.id)
            .where(Subscriber.audience_id == audience_id)
            .order_by(Subscriber.email).execution_options(yield_per=STREAM_BATCH))
    for row in session.execute(stmt):
        yield dict(zip(VALUE_EXPORT_COLUMNS, row))


def value_model_document(session: Session, audience_id: int) -> dict | None:
    """{"bgnbd": {r, alpha, a, b, log_likelihood}, "gamma_gamma": {p, q, gamma, ...}, "customers", "as_of"}."""
    model = latest_model(session, audience_id)
    return model_parameters(model) if model is not None else None
