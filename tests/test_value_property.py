"""The value SQL (scores, segments, ABC) against a small pure-Python reference, on random audiences."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st
from sqlalchemy import select

from mailseg.config import Config
from mailseg.models import Audience, Subscriber, SubscriberValue
from mailseg.value import value_audience
from mailseg.value.segments import parse_rfm_segments

from .factories import make_order

UTC = timezone.utc
AS_OF_CHOICES = [datetime(2026, 8, 31, 12, tzinfo=UTC), datetime(2026, 3, 31, 23, 59, 59, 999999, tzinfo=UTC),
                 datetime(2025, 12, 30, 6, 30, tzinfo=UTC)]
# Places of an order: before the lookback, its excluded start, just inside, inside, as_of, after as_of.
PLACES = ("long_before", "start", "just_after_start", "inside", "end", "after_end")
STATUSES = (None, None, None, "paid", "refunded", "cancelled")


def reference_lookback_start(as_of: datetime, months: int) -> datetime:
    index = as_of.year * 12 + as_of.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    days_in_month = [31, 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28, 31, 30, 31, 30,
                     31, 31, 30, 31, 30, 31][month - 1]
    return as_of.replace(year=year, month=month, day=min(as_of.day, days_in_month))


def moment(place: str, start: datetime, as_of: datetime, jitter: int) -> datetime:
    return {"long_before": start - timedelta(days=40, seconds=jitter), "start": start,
            "just_after_start": start + timedelta(microseconds=1),
            "inside": start + (as_of - start) * (jitter % 97 + 1) / 100 + timedelta(microseconds=jitter % 7),
            "end": as_of, "after_end": as_of + timedelta(microseconds=1 + jitter)}[place]


def reference(customers: dict[str, list[tuple[datetime, int, str | None]]], start, as_of, cfg):
    """email -> (frequency, monetary, recency_days, r, f, m, segment, abc) by the issue's definitions."""
    rules = parse_rfm_segments(cfg.rfm_segments)
    figures = {}
    for email, orders in customers.items():
        counted = [(at, amount) for at, amount, status in orders
                   if start < at <= as_of and status not in ("refunded", "cancelled")]
        if counted:
            last = max(at for at, _ in counted)
            figures[email] = (len(counted), sum(a for _, a in counted), (as_of - last) // timedelta(days=1))
    n = len(figures)

    def scores(key, descending=False):
        out = {}
        for email, fig in figures.items():
            rank = 1 + sum(1 for other in figures.values()
                           if (key(other) > key(fig) if descending else key(other) < key(fig)))
            out[email] = 1 + math.floor(5 * (rank - 1) / n)
        return out

    r, f, m = scores(lambda x: x[2], descending=True), scores(lambda x: x[0]), scores(lambda x: x[1])
    order = sorted(figures, key=lambda e: (-figures[e][1], e))
    total, before, abc = sum(fig[1] for fig in figures.values()), 0, {}
    for email in order:
        abc[email] = "A" if before < cfg.abc_a * total else "B" if before < cfg.abc_b * total else "C"
        before += figures[email][1]
    result = {}
    for email in customers:
        if email not in figures:
            result[email] = (0, 0, None, None, None, None, "prospect", None)
            continue
        cell = (r[email], f[email], m[email])
        segment = next((rule.name for rule in rules if rule.matches(*cell)), "other")
        result[email] = (*figures[email], *cell, segment, abc[email])
    return result


order_strategy = st.tuples(st.sampled_from(PLACES), st.sampled_from((5, 10, 10, 25, 40)), st.sampled_from(STATUSES))
customer_strategy = st.lists(order_strategy, max_size=4)


@hypothesis_settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(customers=st.lists(customer_strategy, min_size=1, max_size=8), months=st.integers(1, 24),
       as_of=st.sampled_from(AS_OF_CHOICES), jitter=st.integers(0, 10_000),
       abc=st.sampled_from([(0.8, 0.95), (0.5, 0.9), (0.6, 0.6)]))
def test_value_sql_matches_the_reference(session, customers, months, as_of, jitter, abc):
    cfg = Config().replace(value={"lookback_months": months, "abc_a": abc[0], "abc_b": abc[1]}).value
    start = reference_lookback_start(as_of, months)
    audience = Audience(name=f"a-{uuid.uuid4().hex}")
    session.add(audience)
    session.flush()
    plan = {}
    for n, raw in enumerate(customers):
        email = f"c{n}@example.com"
        session.add(Subscriber(audience_id=audience.id, email=email))
        session.flush()
        plan[email] = [(moment(place, start, as_of, jitter + n * 13 + i), amount, status)
                       for i, (place, amount, status) in enumerate(raw)]
        for at, amount, status in plan[email]:
            make_order(session, audience, email, at, amount, status=status)
    session.commit()
    value_audience(session, audience.id, cfg, as_of=as_of)
    session.expire_all()
    stored = {email: (v.frequency, int(v.monetary), v.recency_days, v.r_score, v.f_score, v.m_score,
                      v.rfm_segment, v.abc_class)
              for email, v in session.execute(
                  select(Subscriber.email, SubscriberValue)
                  .join(SubscriberValue, SubscriberValue.subscriber_id == Subscriber.id)
                  .where(Subscriber.audience_id == audience.id)).all()}
    assert stored == reference(plan, start, as_of, cfg)
