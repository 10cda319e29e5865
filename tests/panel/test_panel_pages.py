"""Every panel page: empty database, seeded audience, and the figures they show."""

import csv
import io

import pytest
from tests.factories import PEOPLE, due_for_reengagement

from sqlalchemy import func

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
    # full-pass figures come from the last stored outlook, never from a scan per view
    assert "No figures yet" in page and "Not planned yet" in page


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
    # the explanation in plain words, the same sentences as `mailseg explain`
    assert 'id="why-heading"' in page
    since = session.get(Subscriber, seeded.ids["ivan.petrenko@example.com"]).class_since
    headline = f"Inactive since {since:%b} {since.day}, {since.year}: no click and no real open in the last 6 months."
    assert f'<p class="rule" id="why-sentence">{headline}</p>' in page
    assert ("The 1 open in that time was made by Apple Mail&#39;s privacy proxy, not by the reader, "
            "so it does not count.") in page
    assert "Machine opens ignored" in page and "Flagged events that did not count" in page
    # flag reasons are sentences, campaigns appear by subject
    assert "Apple Mail&#39;s privacy proxy fetched the images (an Apple network address), not the reader" in page
    assert "apple_mpp_ip" not in page


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
    assert "ms-inactive" in page and "Webhook and tracking URLs" in page
    response = admin.post("/sync/requests", data={"mode": "dry_run"})
    assert response.status_code == 302
    (queued,) = pending_requests(session, job="sync")
    assert queued.options == {"dry_run": True} and queued.requested_by == "admin@panel.example"
    assert queued.audience_id == seeded.audience_id
    assert "dry run requested by admin@panel.example" in admin.get("/sync").data.decode()


def test_webhook_secret_only_for_admins(app, client, users, config):
    from tests.factories import ADMIN, VIEWER, login

    app.extensions["mailseg.config"] = config.replace(mailchimp={"webhook_secret": "s3cr3t-webhook-path-value"},
                                                      tracking={"base_url": "https://mail.example.com/"})
    login(client, VIEWER)
    page = client.get("/sync").data.decode()
    assert "s3cr3t-webhook-path-value" not in page and "https://mail.example.com/webhooks/mailchimp/****<" in page
    assert "path-value" not in page
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
    assert "<td>classification</td><td>Jan 2, 2030 03:00 UTC</td>" in page


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
    assert '<option value="off" selected>off</option>' in page
    assert admin.post(f"/campaigns/{provider_id}/resend", data={"mode": "maybe"}).status_code == 400
    assert admin.post("/campaigns/nope/resend", data={"mode": "on"}).status_code == 404


def test_viewer_cannot_switch_resend(viewer, seeded, session):
    from mailseg.models import Campaign

    provider_id = session.get(Campaign, seeded.original_id).provider_id
    assert viewer.post(f"/campaigns/{provider_id}/resend", data={"mode": "off"}).status_code == 403
    assert "resend: follow the rule" not in viewer.get("/campaigns").data.decode()


def test_dashboard_next_comes_from_the_stored_outlook(viewer, seeded, session):
    from mailseg.config import Config
    from mailseg.models import Audience
    from mailseg.policies.outlook import store_outlook

    outlook = store_outlook(session, session.get(Audience, seeded.audience_id), Config())
    page = viewer.get("/").data.decode()
    assert 'id="next-actions"' in page or "Nothing is due" in page
    for action in outlook.actions:
        assert f'data-policy="{action.policy}"' in page and f'data-count="{action.audience}"' in page
    assert f'id="sends-saved" data-count="{outlook.cap.sends_saved_per_month}"' in page


def test_search_finds_a_name_ignoring_case_and_accents(viewer, seeded, session):
    from datetime import datetime, timezone

    from mailseg.reports.audience import COUNT_CAP, ResultCount, result_count

    session.add(Subscriber(audience_id=seeded.audience_id, email="ap1987@mail.example", first_name="Andriy",
                           last_name="Petrénko", subscribed_at=datetime(2025, 1, 1, tzinfo=timezone.utc)))
    session.commit()
    page = viewer.get("/audience?q=PETRENKO").data.decode()
    assert "ap1987@mail.example" in page and "Andriy Petrénko" in page  # by name, without the accent
    assert "ivan.petrenko@example.com" in page  # by email
    assert "2 subscribers" in page and "anna" not in page
    rows = subscriber_page(session, seeded.audience_id, SubscriberFilter(q="andriy pet")).rows
    assert [r.email for r in rows] == ["ap1987@mail.example"]
    assert result_count(session, seeded.audience_id, SubscriberFilter(q="trénk")) == ResultCount(2, True)
    assert result_count(session, seeded.audience_id, SubscriberFilter()).value == len(PEOPLE) + 1 <= COUNT_CAP
    # short queries match the start of the email (an index range), not any substring
    assert [r.email for r in subscriber_page(session, seeded.audience_id, SubscriberFilter(q="li")).rows] == [
        "li.wang@example.net"]


def test_audience_sorts_by_class_and_class_since(viewer, seeded, session):
    from mailseg.reports.dashboard import CLASS_ORDER

    seen, cursor = [], None
    while True:
        page = subscriber_page(session, seeded.audience_id, SubscriberFilter(sort="class"), cursor=cursor, limit=2)
        seen += [r.engagement_class for r in page.rows]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == sorted(seen, key=CLASS_ORDER.index) and len(seen) == len(PEOPLE)
    session.get(Subscriber, seeded.ids["li.wang@example.net"]).class_since = None  # never classified: last
    session.commit()
    for sort in ("since", "-since"):
        rows, cursor = [], None
        while True:
            page = subscriber_page(session, seeded.audience_id, SubscriberFilter(sort=sort), cursor=cursor, limit=2)
            rows += page.rows
            cursor = page.next_cursor
            if cursor is None:
                break
        assert len({r.id for r in rows}) == len(rows) == len(PEOPLE)
        dated = [(r.class_since, r.id) for r in rows if r.class_since is not None]
        assert dated == sorted(dated, reverse=sort.startswith("-")) and rows[-1].email == "li.wang@example.net"
    html = viewer.get("/audience?sort=class").data.decode()
    assert "Last human open" in html and "Last human click" in html


def test_a_large_result_is_counted_as_a_marked_estimate(viewer, seeded, session, monkeypatch):
    import mailseg.reports.audience as audience_report

    monkeypatch.setattr(audience_report, "COUNT_CAP", 2)  # more than 2 matches: no exact count
    count = audience_report.result_count(session, seeded.audience_id, SubscriberFilter())
    assert count.exact is False and count.value >= 2
    page = viewer.get("/audience").data.decode()
    if session.get_bind().dialect.name == "postgresql":
        assert "subscribers (estimate)" in page
    else:  # no planner estimate: the cap as a floor
        assert count.at_least and "more than 2 subscribers" in page
    exact = audience_report.result_count(session, seeded.audience_id, SubscriberFilter(engagement_class="new"))
    assert (exact.value, exact.exact) == (1, True)


def test_sync_now_is_disabled_with_the_reason_while_mailchimp_is_not_configured(admin, seeded, session):
    from mailseg.jobrequests import pending_requests

    page = admin.get("/sync").data.decode()
    assert '<button type="button" disabled aria-describedby="sync-disabled-reason">Sync now</button>' in page
    assert "mailchimp.api_key" in page.split('id="sync-disabled-reason"')[1].split("</p>")[0]
    response = admin.post("/sync/requests", data={"mode": "sync"}, follow_redirects=True)
    assert "Mailchimp is not configured, so a sync cannot run" in response.data.decode()
    assert pending_requests(session, job="sync") == []


def test_webhook_urls_follow_web_public_url_else_the_served_address(app, admin, seeded, config):
    page = admin.get("/sync").data.decode()  # served on the test client's http://localhost/
    assert "http://localhost/webhooks/mandrill" in page and "127.0.0.1:5000" not in page
    assert "http://localhost/t/o/&lt;token&gt;.gif" in page
    app.extensions["mailseg.config"] = config.replace(web={"public_url": "https://mail.example.com/"},
                                                      mailchimp={"api_key": "k-us1"})
    page = admin.get("/sync").data.decode()
    assert "https://mail.example.com/webhooks/mandrill" in page and "https://mail.example.com/t/c/&lt;token&gt;" in page
    assert '<button type="submit" name="mode" value="sync" class="primary">Sync now</button>' in page


def test_a_failed_run_reads_as_a_sentence_with_the_raw_error_behind_details(viewer, seeded, session):
    from mailseg.models import JobRun, utcnow

    session.add(JobRun(job="sync", audience_id=seeded.audience_id, status="failed", started_at=utcnow(),
                       finished_at=utcnow(), error="RuntimeError: Mailchimp is not configured: set mailchimp.api_key"))
    session.commit()
    page = viewer.get("/").data.decode()
    assert "Mailchimp is not configured. Set mailchimp.api_key, mailchimp.server and mailchimp.list_id" in page
    assert "<summary>details</summary><pre class=\"raw\">RuntimeError: Mailchimp is not configured" in page


def test_next_on_the_dashboard_the_settings_and_the_subscriber_page(app, viewer, seeded, session, config):
    """Ivan (inactive) received 6 mailings in the window: the next run sends him re-engagement."""
    due_for_reengagement(session, app, config, seeded.audience_id, "ivan.petrenko@example.com")
    page = viewer.get("/").data.decode()
    assert '<tr data-policy="reengagement">' in page
    assert "Re-engagement attempt 1 to 1 inactive subscriber." in page
    assert 'data-label="Segment">re-engagement attempt 1</td>' in page
    settings_page = viewer.get("/settings").data.decode()
    assert 'class="next-line" data-policy="reengagement"' in settings_page
    person = viewer.get(f"/subscribers/{seeded.ids['ivan.petrenko@example.com']}").data.decode()
    assert "Gets re-engagement attempt 1 at the next run of the policies" in person


def test_dashboard_counts_without_a_scan_match_a_grouped_count(viewer, seeded, session):
    """Stored counts of the last classification + later class changes + the unclassified = live."""
    from datetime import datetime, timezone

    from mailseg.models import ClassChange
    from mailseg.reports.dashboard import class_counts

    session.add(Subscriber(audience_id=seeded.audience_id, email="late@example.com",
                           subscribed_at=datetime.now(timezone.utc)))  # imported after the run
    sub = session.get(Subscriber, seeded.ids["anna.smith@example.org"])
    sub.engagement_class = "active"
    session.add(ClassChange(audience_id=seeded.audience_id, subscriber_id=sub.id, from_class="semi_active",
                            to_class="active", changed_at=datetime.now(timezone.utc)))
    session.commit()
    live = dict(session.query(Subscriber.engagement_class, func.count()).select_from(Subscriber)
                .group_by(Subscriber.engagement_class).all())
    live["unclassified"] = live.pop(None)
    assert {c.name: c.count for c in class_counts(session, seeded.audience_id)} == live
