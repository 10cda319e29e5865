"""The audience list's sort by last activity (stored after each classification) and its keyset pages."""

import base64
import json

from tests.factories import PEOPLE

from mailseg.models import Subscriber
from mailseg.reports.audience import SubscriberFilter, export_rows, subscriber_page
from mailseg.subscribers.activity import refresh_activity


def _every_page(session, audience_id, f, limit=2):
    rows, cursor = [], None
    while True:
        page = subscriber_page(session, audience_id, f, cursor=cursor, limit=limit)
        rows += page.rows
        cursor = page.next_cursor
        if cursor is None:
            return rows


def test_refresh_stores_the_later_of_the_last_human_open_and_click(session, seeded):
    from mailseg.models import SubscriberActivity

    assert refresh_activity(session, seeded.audience_id) == 3  # anna.kovalenko, anna.smith, olena (ivan's open was Apple's)
    anna = session.get(SubscriberActivity, seeded.ids["anna.kovalenko@example.com"])
    assert anna.last_human_click > anna.last_human_open and anna.last_activity_at == anna.last_human_click
    assert session.get(SubscriberActivity, seeded.ids["ivan.petrenko@example.com"]) is None
    assert refresh_activity(session, seeded.audience_id) == 3  # rebuilt, not added to


def test_sort_by_last_activity_pages_through_everyone_once(session, seeded):
    refresh_activity(session, seeded.audience_id)
    session.commit()
    newest = [r.email for r in _every_page(session, seeded.audience_id, SubscriberFilter(sort="-activity"))]
    assert len(newest) == len(set(newest)) == len(PEOPLE)
    # the two resend openers share a moment (newest id first), then anna's click; the never active last, newest id first
    never = sorted(("ivan.petrenko@example.com", "li.wang@example.net", "mei.zhang@example.com"),
                   key=seeded.ids.get, reverse=True)
    openers = sorted(("anna.smith@example.org", "olena.bondar@example.com"), key=seeded.ids.get, reverse=True)
    assert newest == [*openers, "anna.kovalenko@example.com", *never]
    oldest = [r.email for r in _every_page(session, seeded.audience_id, SubscriberFilter(sort="activity"), limit=1)]
    assert oldest == ["anna.kovalenko@example.com", *reversed(openers), *reversed(never)]
    filtered = _every_page(session, seeded.audience_id, SubscriberFilter(sort="-activity", engagement_class="active"))
    assert [r.email for r in filtered] == ["olena.bondar@example.com", "anna.kovalenko@example.com"]
    exported = [row["email"] for row in export_rows(session, seeded.audience_id, SubscriberFilter(sort="-activity"))]
    assert exported == newest


def test_the_panel_offers_the_sort_and_pages_with_it(viewer, seeded, session):
    refresh_activity(session, seeded.audience_id)
    session.commit()
    html = viewer.get("/audience?sort=-activity&size=2").data.decode()
    assert 'value="-activity" selected' in html and "olena.bondar@example.com" in html
    next_url = html.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    assert "anna.kovalenko@example.com" in viewer.get(next_url).data.decode()
    for payload, status in (([0, "1970-01-01T00:00:00Z", 1], 200), ([1, None, 2], 200), (["x", 1, 1], 400),
                            ([0, "not a date", 1], 400), ([0, None, True], 400)):
        cursor = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
        assert viewer.get(f"/audience?sort=-activity&after={cursor}").status_code == status, payload


def test_a_broad_search_is_counted_up_to_the_cap_and_its_page_stays_in_order(viewer, session, seeded, monkeypatch):
    import mailseg.reports.audience as audience_report
    from mailseg.reports.audience import result_count

    monkeypatch.setattr(audience_report, "SEARCH_CAP", 2)  # "example" matches all 6: more than the cap
    count = result_count(session, seeded.audience_id, SubscriberFilter(q="example"))
    assert (count.value, count.exact, count.at_least) == (2, False, True)
    assert "more than 2 subscribers" in viewer.get("/audience?q=example").data.decode()
    rows = _every_page(session, seeded.audience_id, SubscriberFilter(q="example"))  # the walk in email order
    assert [r.email for r in rows] == sorted(PEOPLE)
    assert result_count(session, seeded.audience_id, SubscriberFilter(q="kovalenko")).exact  # 1 match: exact


def test_a_walk_that_runs_out_of_time_sorts_the_first_matches_found(viewer, session, seeded, monkeypatch):
    import mailseg.reports.audience as audience_report

    if session.get_bind().dialect.name != "postgresql":
        return  # the bounded walk is PostgreSQL's (SQLite scans)
    monkeypatch.setattr(audience_report, "SEARCH_CAP", 2)
    monkeypatch.setattr(audience_report, "within_time", lambda session, ms, work: None)  # the walk ran out
    page = subscriber_page(session, seeded.audience_id, SubscriberFilter(q="example"))
    assert page.partial and len(page.rows) == 3  # the first SEARCH_CAP + 1 found, sorted
    assert [r.email for r in page.rows] == sorted(r.email for r in page.rows)
    assert 'id="partial-page"' in viewer.get("/audience?q=example").data.decode()


def test_within_time_stops_a_slow_statement_and_the_transaction_goes_on(session, seeded):
    from sqlalchemy import text

    from mailseg.reports.audience_search import within_time

    if session.get_bind().dialect.name != "postgresql":
        assert within_time(session, 10, lambda: 7) == 7
        return
    assert within_time(session, 20, lambda: session.execute(text("SELECT pg_sleep(2)"))) is None
    assert within_time(session, 2000, lambda: session.scalar(text("SELECT 7"))) == 7
    assert session.scalar(text("SELECT current_setting('statement_timeout')")) == "0"


def test_the_scheduled_classification_stores_the_last_activity_with_the_new_class(database, session, seeded, config):
    from sqlalchemy import select

    from mailseg.models import SubscriberActivity, utcnow
    from mailseg.scheduler.jobs import classify_step

    assert classify_step(database, config, seeded.audience_id, as_of=utcnow())
    session.expire_all()
    stored = dict(session.execute(select(SubscriberActivity.subscriber_id, SubscriberActivity.engagement_class)).all())
    current = {sid: session.get(Subscriber, sid).engagement_class for sid in stored}
    assert set(stored) == {seeded.ids[e] for e in ("anna.kovalenko@example.com", "anna.smith@example.org",
                                                   "olena.bondar@example.com")}
    assert stored == current
