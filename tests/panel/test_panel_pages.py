"""Every panel page: empty database, seeded audience, and the figures they show."""

import csv
import io

import pytest
from seed import PEOPLE

from mailseg.models import Subscriber
from mailseg.reports.audience import SubscriberFilter, subscriber_page

PAGES = ["/", "/audience", "/campaigns", "/value", "/settings", "/sync"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_render_on_an_empty_database(viewer, path):
    response = viewer.get(path)
    assert response.status_code == 200
    assert b"<title>" in response.data and b"Traceback" not in response.data


def test_empty_database_says_what_to_do(viewer):
    assert b"No audience yet" in viewer.get("/").data
    assert viewer.get("/audience/export.csv").status_code == 404
    assert viewer.get("/subscribers/12345").status_code == 404


def test_dashboard_counts_match_the_database(viewer, seeded, session):
    page = viewer.get("/").data.decode()
    for klass in {"active", "semi_active", "inactive", "new", "unsubscribed"}:
        count = session.query(Subscriber).filter_by(engagement_class=klass).count()
        assert f'<tr data-class="{klass}"><td>' in page
        assert f'data-count="{count}">{count}</td>' in page
    assert "33.3%" in page  # 2 of 6 active
    assert 'id="class-series"' in page and "chart.umd.min.js" in page
    assert "RuntimeError: the window is broken" in page  # the failed classify run
    assert "Sends saved by the frequency cap" in page
    from mailseg.config import Config
    from mailseg.models import utcnow
    from mailseg.policies.frequency import cap_figures

    saved = cap_figures(session, seeded.audience_id, Config(), utcnow()).sends_saved_per_month
    assert f'id="sends-saved" data-count="{saved}"' in page


def test_dashboard_transitions_matrix(viewer, seeded):
    page = viewer.get("/").data.decode()
    assert "Transitions in the last 30 days" in page
    # The seeded moves 10 days ago: new -> active twice.
    assert ">2</td>" in page


def test_class_series_comes_from_successful_classify_runs(session, seeded):
    from mailseg.reports.dashboard import class_series

    series = class_series(session, seeded.audience_id)
    assert len(series.labels) == 2  # the failed run adds no point
    assert series.datasets["new"] == [6, 1]
    assert series.datasets["active"] == [0, 2]
    assert sum(values[-1] for values in series.datasets.values()) == len(PEOPLE)


def test_dashboard_figures_follow_new_class_changes(viewer, seeded, session):
    from datetime import datetime, timezone

    from mailseg.models import ClassChange

    assert 'data-count="2">2</td>' in viewer.get("/").data.decode()  # active
    sub = session.get(Subscriber, seeded.ids["li.wang@example.net"])
    sub.engagement_class = "active"
    session.add(ClassChange(audience_id=seeded.audience_id, subscriber_id=sub.id, from_class="new", to_class="active",
                            changed_at=datetime.now(timezone.utc)))
    session.commit()
    assert '<tr data-class="active"><td><span class="badge class-active">active</span></td><td class="num" data-count="3">' \
        in viewer.get("/").data.decode()


def test_audience_search_filters_and_sorts(viewer, seeded):
    page = viewer.get("/audience?q=ANNA").data.decode()
    assert "anna.kovalenko@example.com" in page and "anna.smith@example.org" in page
    assert "ivan.petrenko" not in page
    page = viewer.get("/audience?class=inactive").data.decode()
    assert "ivan.petrenko@example.com" in page and "anna.smith" not in page
    page = viewer.get("/audience?status=unsubscribed").data.decode()
    assert "mei.zhang@example.com" in page and "anna.smith" not in page
    page = viewer.get("/audience?sort=-email").data.decode()
    assert page.index("olena.bondar") < page.index("anna.kovalenko")
    assert "No subscriber matches" in viewer.get("/audience?q=zzz").data.decode()


def test_keyset_pages_cover_everyone_once(session, seeded):
    for sort in ("email", "-email", "subscribed", "-subscribed"):
        seen, cursor = [], None
        while True:
            page = subscriber_page(session, seeded.audience_id, SubscriberFilter(sort=sort), cursor=cursor, limit=4)
            seen += [s.email for s in page.rows]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert sorted(seen) == sorted(PEOPLE) and len(seen) == len(set(seen))


def test_prefix_search_treats_wildcards_literally(session, seeded):
    assert subscriber_page(session, seeded.audience_id, SubscriberFilter(q="anna%")).rows == []
    assert subscriber_page(session, seeded.audience_id, SubscriberFilter(q="anna_")).rows == []


def test_audience_next_page_link_and_bad_cursor(viewer, seeded):
    import re

    first = viewer.get("/audience?size=4").data.decode()
    next_url = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = viewer.get(next_url).data.decode()
    assert "olena.bondar@example.com" in second and "anna.kovalenko" not in second
    assert 'rel="next"' not in second and "First page" in second
    assert viewer.get("/audience?after=garbage").status_code == 400


def test_csv_export_of_the_current_filter(viewer, seeded):
    response = viewer.get("/audience/export.csv?q=anna")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert {r["email"] for r in rows} == {"anna.kovalenko@example.com", "anna.smith@example.org"}
    assert {r["engagement_class"] for r in rows} == {"active", "semi_active"}


def test_subscriber_page(viewer, seeded, session):
    page = viewer.get(f"/subscribers/{seeded.ids['ivan.petrenko@example.com']}").data.decode()
    assert "ivan.petrenko@example.com" in page and "COUNTRY" in page
    assert "machine/bot" in page  # the Apple proxy open is flagged
    assert "Spring sale" in page
    assert "inactive" in page and "Class history" in page
    # the explanation is the same function as `mailseg explain`
    from mailseg.config import EngagementConfig
    from mailseg.engagement import explain_subscriber

    explanation = explain_subscriber(session, seeded.ids["ivan.petrenko@example.com"], EngagementConfig())
    assert 'id="why-heading"' in page
    assert explanation.rule.replace("'", "&#39;") in page
    assert "Machine opens ignored" in page and "Flagged events that did not count" in page


def test_campaigns_page_shows_versions_and_added_opens(viewer, seeded, session):
    from mailseg.reports.campaigns import sent_campaigns

    (original,) = sent_campaigns(session, seeded.audience_id)
    assert (original.recipients, original.human_openers, original.machine_opens, original.human_clickers) == (6, 1, 1, 1)
    (version,) = original.versions
    assert version.recipients == 5 and version.added_openers == 2
    page = viewer.get("/campaigns").data.decode()
    assert "version 2" in page and "+2" in page
    assert "Summer preview" in page  # scheduled


def test_sync_page_shows_runs_per_tag_and_queues_requests(admin, seeded, session):
    from mailseg.jobrequests import pending_requests

    page = admin.get("/sync").data.decode()
    assert "ms-inactive" in page and "Webhook URLs" in page
    response = admin.post("/sync/requests", data={"mode": "dry_run"})
    assert response.status_code == 302
    (queued,) = pending_requests(session, job="sync")
    assert queued.options == {"dry_run": True} and queued.requested_by == "admin@panel.example"
    assert queued.audience_id == seeded.audience_id
    assert "dry run requested by admin@panel.example" in admin.get("/sync").data.decode()


def test_webhook_secret_only_for_admins(app, client, users, config):
    from seed import ADMIN, VIEWER, login

    app.extensions["mailseg.config"] = config.replace(mailchimp={"webhook_secret": "s3cr3t-webhook-path-value"},
                                                      tracking={"base_url": "https://mail.example.com/"})
    login(client, VIEWER)
    page = client.get("/sync").data.decode()
    assert "s3cr3t-webhook-path-value" not in page and "https://mail.example.com/webhooks/mailchimp/****alue" in page
    client.post("/logout")
    login(client, ADMIN)
    page = client.get("/sync").data.decode()
    assert "https://mail.example.com/webhooks/mailchimp/s3cr3t-webhook-path-value" in page
    assert "https://mail.example.com/webhooks/mandrill" in page


def test_dashboard_lists_the_next_scheduled_runs(viewer, seeded, session):
    from datetime import datetime, timezone

    from mailseg.models import apscheduler_jobs

    assert "Nothing scheduled yet" in viewer.get("/").data.decode()
    at = datetime(2030, 1, 2, 3, 0, tzinfo=timezone.utc)
    session.execute(apscheduler_jobs.insert(), [{"id": "classify", "next_run_time": at.timestamp(), "job_state": b"-"}])
    session.commit()
    page = viewer.get("/").data.decode()
    assert "<td>classify</td>" in page and "2030-01-02 03:00" in page


def test_campaigns_page_shows_a_per_campaign_resend_switch(viewer, seeded, session):
    from mailseg.models import Campaign

    session.get(Campaign, seeded.original_id).resend_enabled = False
    session.commit()
    assert "resend off" in viewer.get("/campaigns").data.decode()


def test_admin_switches_resend_for_one_campaign_and_it_is_audited(admin, seeded, session):
    from mailseg.models import Campaign, SettingChange

    provider_id = session.get(Campaign, seeded.original_id).provider_id
    response = admin.post(f"/campaigns/{provider_id}/resend", data={"mode": "off"})
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Campaign, seeded.original_id).resend_enabled is False
    (change,) = session.query(SettingChange).filter_by(section="campaign").all()
    assert (change.key, change.old_value, change.new_value) == (f"{provider_id}.resend_enabled", None, False)
    page = admin.get("/campaigns").data.decode()
    assert '<option value="off" selected>resend: off</option>' in page
    assert admin.post(f"/campaigns/{provider_id}/resend", data={"mode": "maybe"}).status_code == 400
    assert admin.post("/campaigns/nope/resend", data={"mode": "on"}).status_code == 404


def test_viewer_cannot_switch_resend(viewer, seeded, session):
    from mailseg.models import Campaign

    provider_id = session.get(Campaign, seeded.original_id).provider_id
    assert viewer.post(f"/campaigns/{provider_id}/resend", data={"mode": "off"}).status_code == 403
    assert "resend: follow the rule" not in viewer.get("/campaigns").data.decode()
