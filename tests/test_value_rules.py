"""RFM scores, segments and ABC classes case by case, through the real SQL (value runs)."""

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import select

from mailseg.config import DEFAULT_RFM_SEGMENTS, Config
from mailseg.models import Subscriber, SubscriberValue, ValueChange, ValueModel
from mailseg.value import value_audience
from mailseg.value.segments import OTHER_SEGMENT, parse_rfm_segments, segment_of

from .factories import make_audience, make_order, make_subscriber, simulated_buyers, utc

AS_OF = utc(2026, 8, 31, 12)
LOOKBACK_START = utc(2025, 8, 31, 12)  # 12 calendar months before AS_OF


def settings(**values):
    return Config().replace(value=values).value


def audience_with(session, orders: dict[str, list[tuple]], prospects: int = 0):
    """orders: email -> [(at, amount) or (at, amount, status)]."""
    audience = make_audience(session)
    for email, items in orders.items():
        make_subscriber(session, audience, email)
        for item in items:
            make_order(session, audience, email, item[0], item[1], status=item[2] if len(item) > 2 else None)
    for n in range(prospects):
        make_subscriber(session, audience, f"prospect{n}@example.com")
    session.commit()
    return audience


def values(session) -> dict[str, SubscriberValue]:
    session.expire_all()
    rows = session.execute(select(Subscriber.email, SubscriberValue)
                           .join(SubscriberValue, SubscriberValue.subscriber_id == Subscriber.id)).all()
    return {email: value for email, value in rows}


def scores(value: SubscriberValue) -> tuple:
    return value.r_score, value.f_score, value.m_score


def test_one_customer_scores_one_everywhere_and_is_class_a(session):
    audience = audience_with(session, {"solo@example.com": [(utc(2026, 8, 1), 10)]}, prospects=1)
    value_audience(session, audience.id, settings(), as_of=AS_OF)
    stored = values(session)
    solo = stored["solo@example.com"]
    assert (solo.frequency, float(solo.monetary), solo.recency_days) == (1, 10.0, 30)
    assert scores(solo) == (1, 1, 1) and solo.rfm_segment == "lost"
    assert solo.abc_class == "A" and solo.abc_share_before == 0
    prospect = stored["prospect0@example.com"]
    assert prospect.rfm_segment == "prospect" and prospect.frequency == 0 and float(prospect.monetary) == 0
    assert scores(prospect) == (None, None, None) and prospect.abc_class is None and prospect.recency_days is None


def test_all_equal_customers_share_every_score_and_abc_goes_by_email(session):
    same = [(utc(2026, 8, 1), 10)]
    audience = audience_with(session, {f"{name}@example.com": same for name in ("c", "a", "b", "d", "e")})
    value_audience(session, audience.id, settings(), as_of=AS_OF)
    stored = values(session)
    assert {scores(v) for v in stored.values()} == {(1, 1, 1)}
    # 10 each of 50: before a 0, b 10, c 20, d 30, e 40 -> e's 40 is not under 0.8 x 50, B.
    assert {email[0]: v.abc_class for email, v in stored.items()} == {"a": "A", "b": "A", "c": "A", "d": "A", "e": "B"}


def test_ties_share_the_lowest_rank(session):
    # frequencies 1, 1, 2, 3, 3 -> RANK 1, 1, 3, 4, 4 -> score 1 + floor(5 (rank - 1) / 5) = 1, 1, 3, 4, 4
    days = [utc(2026, 8, d) for d in range(1, 4)]
    plan = {"a@example.com": 1, "b@example.com": 1, "c@example.com": 2, "d@example.com": 3, "e@example.com": 3}
    audience = audience_with(session, {email: [(days[i], 5) for i in range(n)] for email, n in plan.items()})
    value_audience(session, audience.id, settings(), as_of=AS_OF)
    stored = values(session)
    assert {email[0]: v.f_score for email, v in stored.items()} == {"a": 1, "b": 1, "c": 3, "d": 4, "e": 4}
    assert {email[0]: v.m_score for email, v in stored.items()} == {"a": 1, "b": 1, "c": 3, "d": 4, "e": 4}
    # last orders: a, b on 08-01, c on 08-02, d, e on 08-03: the most recent get the highest R
    assert {email[0]: v.r_score for email, v in stored.items()} == {"a": 1, "b": 1, "c": 3, "d": 4, "e": 4}


def test_recency_is_whole_days_and_the_most_recent_score_five(session):
    orders = {f"c{n}@example.com": [(AS_OF - timedelta(days=n, seconds=1), 10)] for n in range(5)}
    orders["c9@example.com"] = [(AS_OF - timedelta(days=3), 10)]  # exactly 3 days
    audience = audience_with(session, orders)
    value_audience(session, audience.id, settings(), as_of=AS_OF)
    stored = values(session)
    assert {e: v.recency_days for e, v in stored.items()} == {
        "c0@example.com": 0, "c1@example.com": 1, "c2@example.com": 2, "c3@example.com": 3, "c4@example.com": 4,
        "c9@example.com": 3}
    assert stored["c0@example.com"].r_score == 5 and stored["c4@example.com"].r_score == 1


def test_lookback_boundaries_and_orders_after_as_of(session):
    audience = audience_with(session, {
        "edge@example.com": [(LOOKBACK_START, 100)],                          # excluded: the window's start
        "inside@example.com": [(LOOKBACK_START + timedelta(microseconds=1), 7)],
        "end@example.com": [(AS_OF, 9), (AS_OF + timedelta(microseconds=1), 1000)],  # as_of counts, later does not
    })
    value_audience(session, audience.id, settings(), as_of=AS_OF)
    stored = values(session)
    assert stored["edge@example.com"].rfm_segment == "prospect" and stored["edge@example.com"].frequency == 0
    assert stored["edge@example.com"].t_weeks is not None  # an order up to as_of still feeds the CLV inputs
    assert (stored["inside@example.com"].frequency, float(stored["inside@example.com"].monetary)) == (1, 7.0)
    assert (stored["end@example.com"].frequency, float(stored["end@example.com"].monetary)) == (1, 9.0)
    assert stored["end@example.com"].recency_days == 0


def test_cancelled_and_refunded_orders_do_not_count(session):
    audience = audience_with(session, {
        "refund@example.com": [(utc(2026, 8, 1), 50, "refunded"), (utc(2026, 8, 2), 20, "Canceled")],
        "mixed@example.com": [(utc(2026, 8, 1), 50, "paid"), (utc(2026, 8, 2), 20, "refunded")],
    })
    value_audience(session, audience.id, settings(), as_of=AS_OF)
    stored = values(session)
    assert stored["refund@example.com"].rfm_segment == "prospect" and stored["refund@example.com"].t_weeks is None
    assert (stored["mixed@example.com"].frequency, float(stored["mixed@example.com"].monetary)) == (1, 50.0)


def test_abc_boundaries_are_exact(session):
    # 80 + 15 + 5 = 100: A (0 before), B (80 is not under 80, under 95), C (95 is not under 95)
    audience = audience_with(session, {"x@example.com": [(utc(2026, 8, 1), 80)],
                                       "y@example.com": [(utc(2026, 8, 1), 15)],
                                       "z@example.com": [(utc(2026, 8, 1), 5)]})
    value_audience(session, audience.id, settings(), as_of=AS_OF)
    stored = values(session)
    assert [stored[e].abc_class for e in ("x@example.com", "y@example.com", "z@example.com")] == ["A", "B", "C"]
    assert stored["y@example.com"].abc_share_before == pytest.approx(0.80)
    value_audience(session, audience.id, settings(abc_a=0.81, abc_b=0.96), as_of=AS_OF)
    stored = values(session)
    assert [stored[e].abc_class for e in ("x@example.com", "y@example.com", "z@example.com")] == ["A", "A", "B"]


def test_the_default_segment_table_covers_all_125_cells_with_the_seed_examples():
    rules = parse_rfm_segments(DEFAULT_RFM_SEGMENTS)
    cells = {cell: segment_of(rules, *cell)[0] for cell in itertools.product(range(1, 6), repeat=3)}
    assert len(cells) == 125 and OTHER_SEGMENT not in cells.values()
    assert cells[(5, 5, 5)] == "champions"            # 003: premium
    assert cells[(1, 5, 5)] == "cant_lose_them"       # 003: brought a lot long ago, win them back
    assert cells[(5, 5, 1)] == "low_value_frequent"   # 003: frequent but worthless
    assert cells[(1, 1, 1)] == "lost" and cells[(5, 1, 3)] == "new_customers"


@pytest.mark.parametrize("rule, error", [
    ("Champions R4-5 F4-5 M4-5", "lower-case name"),
    ("x R5-4 F1 M1", "low-high"),
    ("x R1 F1", "expected"),
    ("prospect R1 F1 M1", "reserved"),
])
def test_bad_segment_rules_name_the_key(rule, error):
    from mailseg.config import ConfigError

    with pytest.raises(ConfigError, match=f"value.rfm_segments: .*{error}"):
        settings(rfm_segments=[rule])


def test_history_only_on_change(session):
    audience = audience_with(session, {"a@example.com": [(utc(2026, 8, 1), 10)],
                                       "b@example.com": [(utc(2026, 8, 2), 20)]}, prospects=2)
    first = value_audience(session, audience.id, settings(), as_of=AS_OF)
    assert first.changes == {"rfm": 2, "abc": 2, "quadrant": 0}  # prospects enter no history
    again = value_audience(session, audience.id, settings(), as_of=AS_OF)
    assert again.changes == {"rfm": 0, "abc": 0, "quadrant": 0} and again.rows_written == 0
    for day in (3, 4, 5):
        make_order(session, audience, "a@example.com", utc(2026, 8, day), 100)
    make_subscriber(session, audience, "new@example.com")
    session.commit()
    third = value_audience(session, audience.id, settings(), as_of=AS_OF)
    # the stored rows that changed are updated, the new subscriber's row inserted; the rest untouched
    stored = values(session)
    assert third.rows_written == 3 and len(stored) == 5
    assert (stored["a@example.com"].frequency, stored["a@example.com"].monetary) == (4, 310)
    assert stored["a@example.com"].run_id == stored["b@example.com"].run_id == stored["new@example.com"].run_id \
        == third.run_id != stored["prospect0@example.com"].run_id
    assert (stored["new@example.com"].rfm_segment, stored["new@example.com"].frequency) == ("prospect", 0)
    changes = session.execute(select(Subscriber.email, ValueChange.family, ValueChange.from_value, ValueChange.to_value)
                              .join(Subscriber, Subscriber.id == ValueChange.subscriber_id)
                              .where(ValueChange.run_id != first.run_id)).all()
    # a: 4 orders, 310, last on 08-05 -> R3 F3 M3 of 2 customers, loyal (was lost); b: now the older and
    # smaller one, lost (was potential_loyalist) and B (310 before it is not under 0.8 x 330).
    assert set(changes) == {("a@example.com", "rfm", "lost", "loyal"),
                            ("b@example.com", "rfm", "potential_loyalist", "lost"),
                            ("b@example.com", "abc", "A", "B")}


def test_lifetime_value_too_little_data_then_a_fit_then_the_last_good_model_kept(session):
    audience = make_audience(session)
    simulated_buyers(session, audience, 80, end=AS_OF)
    too_few = value_audience(session, audience.id, settings(min_repeat_customers=1000), as_of=AS_OF)
    assert not too_few.model_fitted and "too little data" in too_few.model_reason and too_few.model is None
    assert all(v.clv is None for v in values(session).values())

    fitted = value_audience(session, audience.id, settings(), as_of=AS_OF)
    assert fitted.model_fitted, fitted.model_reason
    assert set(fitted.model["bgnbd"]) == {"r", "alpha", "a", "b", "log_likelihood"}
    stored = values(session)
    with_clv = [v for v in stored.values() if v.clv is not None]
    assert len(with_clv) == 80
    assert all(0 < v.p_alive <= 1 and v.expected_orders > 0 and v.expected_order_value > 0 for v in with_clv)

    kept = value_audience(session, audience.id, settings(min_repeat_customers=1000), as_of=AS_OF + timedelta(days=1))
    assert not kept.model_fitted and kept.model == fitted.model
    assert session.query(ValueModel).count() == 1
    assert {e: v.clv for e, v in values(session).items()} == {e: v.clv for e, v in stored.items()}


def test_quadrants_follow_clv_and_loyalty(session):
    audience = make_audience(session)
    simulated_buyers(session, audience, 80, end=AS_OF)
    engaged = session.scalars(select(Subscriber).where(Subscriber.email.in_(
        [f"buyer{n}@example.com" for n in range(0, 80, 2)]))).all()
    for subscriber in engaged:
        subscriber.engagement_class = "active"
    session.commit()
    result = value_audience(session, audience.id, settings(), as_of=AS_OF)
    assert result.model_fitted
    by_email = {s.email: s.engagement_class for s in session.scalars(select(Subscriber))}
    for email, v in values(session).items():
        if v.frequency == 0:
            assert v.quadrant is None
            continue
        profitable = v.clv >= result.profitable_clv
        loyal = v.frequency >= 2 and by_email[email] in ("active", "semi_active")
        expected = f"{'profitable' if profitable else 'unprofitable'}_{'loyal' if loyal else 'disloyal'}"
        assert v.quadrant == expected
    assert len(result.quadrants) == 4


def test_margin_and_margin_rate(session):
    audience = make_audience(session)
    make_subscriber(session, audience, "m@example.com")
    make_order(session, audience, "m@example.com", utc(2026, 8, 1), 100, margin=30)
    make_order(session, audience, "m@example.com", utc(2026, 8, 2), 100)
    session.commit()
    value_audience(session, audience.id, settings(margin_rate=0.5), as_of=AS_OF)
    assert values(session)["m@example.com"].margin_rate == pytest.approx((30 + 50) / 200)
