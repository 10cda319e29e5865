"""Orders in through the one ingest function: order columns in `mailseg import events`, one order
stored once per audience whichever source brings it, cancellations and refunds that stick."""

from decimal import Decimal

from sqlalchemy import func, select

from mailseg.ingest.events import EventIn, store_events
from mailseg.models import Event, normalise_order_status

from .factories import make_audience, make_subscriber, utc, write_file
from .test_import_events import setup  # anna@ and li@example.com in audience "main"

ORDERS = """
email,type,occurred_at,amount,order_id,margin,order_status
anna@example.com,purchase,2026-05-01T10:00:00Z,100.00,A-1,30.00,paid
anna@example.com,purchase,2026-05-02T10:00:00Z,50.00,A-2,,Canceled
li@example.com,purchase,2026-05-03T10:00:00Z,19.90,A-3,,
li@example.com,purchase,2026-05-03T11:00:00Z,5.00,,,
"""


def purchases(session) -> dict:
    return {e.order_id: e for e in session.scalars(select(Event).where(Event.type == "purchase"))}


def test_import_stores_order_id_margin_and_normalised_state(cli, session, tmp_path):
    setup(session)
    result = cli("import", "events", write_file(tmp_path, "orders.csv", ORDERS))
    assert result.exit_code == 0, result.output
    stored = purchases(session)
    assert set(stored) == {"A-1", "A-2", "A-3", None}
    assert stored["A-1"].margin == Decimal("30.00") and stored["A-1"].order_status == "paid"
    assert stored["A-2"].order_status == "cancelled"
    assert stored["A-3"].margin is None and stored["A-3"].order_status is None
    assert stored[None].amount == Decimal("5.00")


def test_the_same_order_from_another_source_at_another_time_is_stored_once(cli, session, tmp_path):
    audience = setup(session)
    cli("import", "events", write_file(tmp_path, "orders.csv", ORDERS))
    again = EventIn(type="purchase", occurred_at=utc(2026, 5, 1, 10, 2), source="api", email="anna@example.com",
                    amount=Decimal("100.00"), order_id="A-1")
    result = store_events(session, audience.id, [again])
    session.commit()
    assert (result.inserted, result.duplicates) == (0, 1)
    assert session.scalar(select(func.count()).select_from(Event).where(Event.order_id == "A-1")) == 1


def test_order_ids_are_per_audience(session):
    first, second = setup(session), make_audience(session, "other", "list2")
    make_subscriber(session, second, "anna@example.com")
    session.commit()
    for audience in (first, second):
        order = EventIn(type="purchase", occurred_at=utc(2026, 5, 1), source="api", email="anna@example.com",
                        amount=Decimal("10"), order_id="SAME")
        assert store_events(session, audience.id, [order]).inserted == 1
    session.commit()
    assert session.scalar(select(func.count()).select_from(Event).where(Event.order_id == "SAME")) == 2


def test_a_later_refund_stops_the_order_counting_and_an_old_paid_copy_never_revives_it(session):
    audience = setup(session)

    def send(status, *, hour=10):
        order = EventIn(type="purchase", occurred_at=utc(2026, 5, 1, hour), source="pull", email="li@example.com",
                        amount=Decimal("40"), order_id="R-9", order_status=status)
        result = store_events(session, audience.id, [order])
        session.commit()
        return result

    assert send("paid").inserted == 1
    assert send("refunded", hour=12).orders_cancelled == 1
    assert send("paid").orders_cancelled == 0
    assert purchases(session)["R-9"].order_status == "refunded"


def test_the_same_order_twice_in_one_batch_keeps_the_cancellation(session):
    audience = setup(session)
    copies = [EventIn(type="purchase", occurred_at=utc(2026, 5, 1), source="api", email="li@example.com",
                      amount=Decimal("40"), order_id="B-1", order_status=status) for status in ("paid", "cancelled")]
    assert store_events(session, audience.id, copies).inserted == 1
    session.commit()
    assert purchases(session)["B-1"].order_status == "cancelled"


def test_bad_order_fields_are_named(cli, session, tmp_path):
    setup(session)
    bad = ("email,type,occurred_at,amount,order_id,margin,order_status\n"
           "anna@example.com,purchase,2026-05-01,-5,X,,\n"
           "anna@example.com,open,2026-05-01,,X,,\n"
           "anna@example.com,purchase,2026-05-01,5,X,lots,\n"
           f"anna@example.com,purchase,2026-05-01,5,{'x' * 101},,\n")
    result = cli("import", "events", write_file(tmp_path, "bad.csv", bad))
    assert result.exit_code == 1
    assert "bad.csv:2: column 'amount': an order amount cannot be negative" in result.output
    assert "bad.csv:3: column 'order_id': only a purchase has an order_id" in result.output
    assert "bad.csv:4: column 'margin': not a number" in result.output
    assert "bad.csv:5: column 'order_id': longer than 100 characters" in result.output
    assert session.scalar(select(func.count()).select_from(Event)) == 0


def test_order_states_are_normalised():
    assert normalise_order_status(" Canceled ") == "cancelled"
    assert normalise_order_status("Partially refunded") == "partially_refunded"
    assert normalise_order_status("") is None and normalise_order_status(None) is None
