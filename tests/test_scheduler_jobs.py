"""The scheduler's jobs, run directly: the classify chain (classify → value → policies → sync), pull, and the requests
queued from the panel, against the fake Mailchimp."""

from __future__ import annotations

from sqlalchemy import select

from mailseg.jobrequests import pending_requests, request_job
from mailseg.models import JobRequest, JobRun
from mailseg.scheduler.jobs import classify_all, pull_all, run_requests, sync_all

from .sync_helpers import LIST_ID, email, make_audience


def runs(session, job: str | None = None) -> list[JobRun]:
    session.expire_all()
    stmt = select(JobRun).order_by(JobRun.id)
    if job:
        stmt = stmt.where(JobRun.job == job)
    return list(session.scalars(stmt))


def test_classify_chain_classifies_then_syncs_the_tags(database, session, mailchimp_config, fake_mailchimp):
    audience_id = make_audience(session, fake_mailchimp, 8)
    classify_all(database, mailchimp_config)
    assert [(r.job, r.status) for r in runs(session)] == [("classify", "succeeded"), ("value", "succeeded"),
                                                         ("policies", "succeeded"), ("sync", "succeeded")]
    assert runs(session, "value")[0].as_of == runs(session, "classify")[0].as_of  # one clock per chain
    # nobody has engaged and everybody subscribed just now: all new, mirrored as one tag
    assert fake_mailchimp.segment_emails(LIST_ID, "mailseg:new") == {email(i) for i in range(8)}
    assert fake_mailchimp.segment_emails(LIST_ID, "mailseg:active") == set()
    assert runs(session, "classify")[0].audience_id == audience_id


def test_classify_without_mailchimp_only_classifies(database, session, config, fake_mailchimp):
    make_audience(session, fake_mailchimp, 4)
    classify_all(database, config)
    sync_all(database, config)
    pull_all(database, config)
    assert [r.job for r in runs(session)] == ["classify", "value"]


def test_pull_job_stores_activity_once(database, session, mailchimp_config, fake_mailchimp):
    make_audience(session, fake_mailchimp, 3)
    pull_all(database, mailchimp_config)
    pull_all(database, mailchimp_config)
    assert [(r.job, r.status) for r in runs(session)] == [("pull", "succeeded"), ("pull", "succeeded")]


def test_panel_requests_run_once(database, session, mailchimp_config, fake_mailchimp):
    audience_id = make_audience(session, fake_mailchimp, 8)
    request_job(session, "sync", requested_by="admin@example.com", audience_id=audience_id, options={"dry_run": True})
    request_job(session, "sync", requested_by="admin@example.com", audience_id=audience_id)
    session.commit()
    run_requests(database, mailchimp_config)
    run_requests(database, mailchimp_config)  # nothing left: claimed once
    dry, real = runs(session, "sync")
    assert dry.summary["dry_run"] is True
    assert dry.summary["tags"]["mailseg:active"]["added"] == 2
    assert real.status == "succeeded" and not real.summary.get("dry_run")
    assert fake_mailchimp.segment_emails(LIST_ID, "mailseg:active") == {email(0), email(4)}
    assert pending_requests(session) == []
    assert all(r.picked_up_at for r in session.scalars(select(JobRequest)))


def test_requested_sync_without_mailchimp_fails_visibly(database, session, config, fake_mailchimp):
    audience_id = make_audience(session, fake_mailchimp, 2)
    request_job(session, "sync", requested_by="admin@example.com", audience_id=audience_id)
    session.commit()
    run_requests(database, config)
    (run,) = runs(session, "sync")
    assert run.status == "failed" and "Mailchimp is not configured" in run.error
