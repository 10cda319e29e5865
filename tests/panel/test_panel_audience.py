"""The audience list's sort by last activity (stored after each classification) and its keyset pages."""

import base64
import json

from tests.factories import PEOPLE

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
