"""The kept order totals (mailseg/value/totals.py): ingest marks, the value run refreshes, and the kept
sums always equal the orders summed afresh; a run on kept totals gives the values of a full rebuild."""

from datetime import timedelta

from sqlalchemy import func, select

from mailseg.models import Audience, OrderChange, OrderTotals, Subscriber, SubscriberValue
from mailseg.value import value_audience
from mailseg.value.totals import ORDER_TOTALS, TOTAL_COLUMNS, order_totals_select, refresh_order_totals

from .factories import make_audience, make_order, make_subscriber, simulated_buyers, utc
from .test_value_rules import settings

AS_OF = utc(2026, 8, 31, 12)
WINDOW_START = utc(2025, 8, 31, 12)  # 12 calendar months before AS_OF


def kept(session, audience_id: int) -> dict:
    session.expire_all()
    rows = session.execute(select(ORDER_TOTALS).where(ORDER_TOTALS.c.audience_id == audience_id)).mappings()
    return {row["subscriber_id"]: _comparable(row) for row in rows}


def summed_afresh(session, audience_id: int, window=(WINDOW_START, AS_OF)) -> dict:
    rows = session.execute(order_totals_select(session, audience_id, window=window)).mappings()
    return {row["subscriber_id"]: _comparable(row) for row in rows}


def _comparable(row) -> tuple:
    """The row's figures, amounts as cents (SQLite hands back floats, PostgreSQL Decimals)."""
    return tuple(round(float(row[name]) * 100) if name in ("first_day_amount", "amount", "margin",
                                                         "amount_without_margin") else str(row[name])[:19]
                 for name in TOTAL_COLUMNS)


def marks(session, audience_id: int) -> int:
    return session.scalar(select(func.count()).select_from(OrderChange).where(OrderChange.audience_id == audience_id))


def stored_values(session) -> dict:
    session.expire_all()
    return {row.subscriber_id: tuple(getattr(row, name) for name in ("frequency", "monetary", "recency_days",
                                                                       "rfm_segment", "abc_class", "repeat_days",
                                                                       "t_weeks", "clv", "quadrant"))
            for row in session.scalars(select(SubscriberValue))}


def test_ingest_marks_and_the_run_keeps_the_totals_equal_to_the_orders(session):
    audience = make_audience(session)
    for email in ("ann@example.com", "bob@example.com", "cy@example.com"):
        make_subscriber(session, audience, email)
    make_order(session, audience, "ann@example.com", utc(2026, 3, 1, 10), 20, order_id="a1")
    make_order(session, audience, "ann@example.com", utc(2026, 3, 1, 18), 5, order_id="a2", margin=2)
    make_order(session, audience, "bob@example.com", utc(2025, 1, 2), 40, order_id="b1")
    session.commit()
    assert session.get(Audience, audience.id).order_totals_built_at is None
    first = refresh_order_totals(session, audience.id, WINDOW_START, AS_OF)
    assert first.rebuilt and first.subscribers == 2 and marks(session, audience.id) == 0
    assert kept(session, audience.id) == summed_afresh(session, audience.id)
    session.commit()

    # new orders, a refund of a stored order, the same order again under another address, an unknown one
    make_order(session, audience, "ann@example.com", utc(2026, 8, 1), 30, order_id="a3")
    make_order(session, audience, "bob@example.com", utc(2025, 1, 2), 40, order_id="b1", status="refunded")
    make_order(session, audience, "cy@example.com", utc(2026, 3, 1, 10), 20, order_id="a1", status="cancelled")
    make_order(session, audience, "cy@example.com", utc(2026, 8, 2), 12.5, order_id="c1")
    session.commit()
    assert marks(session, audience.id) == 4  # ann, bob, ann (the order first came with her), cy
    refreshed = refresh_order_totals(session, audience.id, WINDOW_START, AS_OF)
    assert not refreshed.rebuilt and refreshed.subscribers == 3 and marks(session, audience.id) == 0
    totals = kept(session, audience.id)
    assert totals == summed_afresh(session, audience.id)
    ann = session.get(OrderTotals, session.scalar(select(Subscriber.id).where(Subscriber.email == "ann@example.com")))
    assert (ann.orders, ann.days, float(ann.amount), float(ann.margin), float(ann.amount_without_margin),
            float(ann.first_day_amount)) == (2, 2, 35.0, 2.0, 30.0, 5.0)
    assert len(totals) == 2  # bob's only order was refunded: no counted order, no row


def test_marks_of_other_audiences_stay(session):
    one, two = make_audience(session, "one", "l1"), make_audience(session, "two", "l2")
    for audience in (one, two):
        make_subscriber(session, audience, "x@example.com")
    session.commit()
    refresh_order_totals(session, one.id, WINDOW_START, AS_OF)
    refresh_order_totals(session, two.id, WINDOW_START, AS_OF)
    for audience in (one, two):
        make_order(session, audience, "x@example.com", utc(2026, 5, 1), 10)
    session.commit()
    assert refresh_order_totals(session, one.id, WINDOW_START, AS_OF).subscribers == 1
    assert marks(session, one.id) == 0 and marks(session, two.id) == 1


def test_runs_on_kept_totals_give_the_values_of_a_full_rebuild(session):
    audience = make_audience(session)
    emails = simulated_buyers(session, audience, 60, end=AS_OF - timedelta(days=3))
    make_subscriber(session, audience, "lapsing@example.com")
    make_order(session, audience, "lapsing@example.com", AS_OF - timedelta(days=4), 30, order_id="only")
    session.commit()
    value_audience(session, audience.id, settings(), as_of=AS_OF - timedelta(days=2))
    # the one order of a customer refunded: the kept totals lose them, the routine run makes them a prospect
    make_order(session, audience, "lapsing@example.com", AS_OF - timedelta(days=4), 30, order_id="only",
               status="refunded")
    for n, email in enumerate(emails[:20]):
        make_order(session, audience, email, AS_OF - timedelta(hours=n + 1), 10 + n)
    make_order(session, audience, emails[30], AS_OF - timedelta(hours=3), 99, order_id="late")
    make_order(session, audience, emails[30], AS_OF - timedelta(hours=3), 99, order_id="late", status="refunded")
    make_subscriber(session, audience, "newcomer@example.com")  # no order: a prospect row appears
    make_subscriber(session, audience, "first@example.com")
    make_order(session, audience, "first@example.com", AS_OF - timedelta(hours=5), 42)  # a first order
    session.commit()
    routine = value_audience(session, audience.id, settings(), as_of=AS_OF)
    assert routine.totals == {"rebuilt": False, "subscribers": 23, "lookback": "slid"}
    by_email = dict(session.execute(select(Subscriber.email, SubscriberValue.rfm_segment)
                                    .join(SubscriberValue, SubscriberValue.subscriber_id == Subscriber.id)).all())
    assert by_email["newcomer@example.com"] == "prospect" and by_email["first@example.com"] != "prospect"
    assert by_email["lapsing@example.com"] == "prospect"
    after_routine = stored_values(session)
    rebuilt = value_audience(session, audience.id, settings(), as_of=AS_OF, rebuild_totals=True)
    assert rebuilt.totals["rebuilt"] and rebuilt.rows_written == 0
    assert stored_values(session) == after_routine


def ann_with_two_orders(session, first_at, second_at=utc(2026, 8, 30)):
    """An audience of one customer, ann, with orders of 10 and 25, valued as of AS_OF."""
    audience = make_audience(session)
    make_subscriber(session, audience, "ann@example.com")
    make_order(session, audience, "ann@example.com", first_at, 10)
    make_order(session, audience, "ann@example.com", second_at, 25)
    session.commit()
    value_audience(session, audience.id, settings(), as_of=AS_OF)
    return audience


def test_a_moment_before_a_kept_order_sums_the_orders_up_to_it(session):
    audience = ann_with_two_orders(session, utc(2026, 6, 1))
    value_audience(session, audience.id, settings(), as_of=utc(2026, 7, 1))  # a backfill point, say
    (stored,) = stored_values(session).values()
    assert stored[:3] == (1, 10, 30) and stored[5] == 0
    assert session.scalar(select(func.count()).select_from(OrderTotals)) == 1  # the kept totals untouched


def test_the_lookback_figures_slide_with_the_window(session):
    """Orders leave the lookback as the window moves: the kept figures lose exactly them, equal a fresh
    sum of the new window, and the run stores what a rebuild stores."""
    audience = make_audience(session)
    emails = simulated_buyers(session, audience, 40, end=AS_OF - timedelta(days=10))
    earlier = AS_OF - timedelta(days=10)
    make_order(session, audience, emails[0], WINDOW_START - timedelta(days=9, hours=23), 17)  # leaves
    make_order(session, audience, emails[1], WINDOW_START + timedelta(hours=1), 23)  # stays
    session.commit()
    first = value_audience(session, audience.id, settings(), as_of=earlier)
    assert first.totals["lookback"] == "built"
    make_order(session, audience, emails[2], AS_OF - timedelta(hours=2), 31)  # a new order in the new window
    session.commit()
    later = value_audience(session, audience.id, settings(), as_of=AS_OF)
    assert later.totals == {"rebuilt": False, "subscribers": 1, "lookback": "slid"}
    assert kept(session, audience.id) == summed_afresh(session, audience.id, (WINDOW_START, AS_OF))
    slid = stored_values(session)
    again = value_audience(session, audience.id, settings(), as_of=AS_OF)
    assert again.totals["lookback"] == "kept" and again.rows_written == 0
    rebuilt = value_audience(session, audience.id, settings(), as_of=AS_OF, rebuild_totals=True)
    assert rebuilt.rows_written == 0 and stored_values(session) == slid


def test_a_window_moved_back_is_summed_afresh_and_a_later_order_clears_the_bounds(session):
    audience = ann_with_two_orders(session, utc(2026, 1, 10))
    past = value_audience(session, audience.id, settings(), as_of=utc(2026, 6, 1))  # a backfill point, say
    assert past.totals["lookback"] == "summed"  # the window moved back
    stored = session.get(Audience, audience.id)
    session.refresh(stored)
    assert stored.lookback_from is None and stored.lookback_to is None  # an order after 2026-06-01 exists
    now = value_audience(session, audience.id, settings(), as_of=AS_OF)
    assert now.totals["lookback"] == "summed"
    assert kept(session, audience.id) == summed_afresh(session, audience.id)
