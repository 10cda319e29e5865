"""The scheduler's jobs, run directly: the classify chain (classify → value → policies → sync), pull, and the requests
queued from the panel, against the fake Mailchimp."""

from __future__ import annotations

from sqlalchemy import select

from mailseg.jobrequests import pending_requests, request_job
from mailseg.models import JobRequest, JobRun
from mailseg.scheduler.jobs import classify_all, pull_all, run_requests, sync_all

from .factories import AS_OF, LIST_ID, email, mirrored_audience


def runs(session, job: str | None = None) -> list[JobRun]:
    session.expire_all()
    stmt = select(JobRun).order_by(JobRun.id)
    if job:
        stmt = stmt.where(JobRun.job == job)
    return list(session.scalars(stmt))


def test_classify_chain_classifies_then_syncs_the_tags(database, session, mailchimp_config, fake_mailchimp):
    audience_id = mirrored_audience(session, fake_mailchimp, 8)
    classify_all(database, mailchimp_config)
    assert [(r.job, r.status) for r in runs(session)] == [("classify", "succeeded"), ("value", "succeeded"),
                                                         ("policies", "succeeded"), ("sync", "succeeded"),
                                                         ("outlook", "succeeded")]
    assert runs(session, "value")[0].as_of == runs(session, "classify")[0].as_of  # one clock per chain
    # nobody has engaged and everybody subscribed just now: all new, mirrored as one tag
    assert fake_mailchimp.segment_emails(LIST_ID, "mailseg:new") == {email(i) for i in range(8)}
    assert fake_mailchimp.segment_emails(LIST_ID, "mailseg:active") == set()
    assert runs(session, "classify")[0].audience_id == audience_id


def test_the_chain_uses_one_as_of_and_one_configuration(database, session, mailchimp_config, fake_mailchimp,
                                                        monkeypatch, frozen_clock):
    """A panel setting saved while the chain runs does not reach its later steps; every run of the
    chain records the same as_of."""
    from mailseg import settings
    from mailseg.scheduler import jobs

    mirrored_audience(session, fake_mailchimp, 4)
    seen = []
    real_classify, real_policies, real_sync = jobs.classify_step, jobs.policies_step, jobs.sync_step

    def classify_then_save_a_setting(db, config, audience_id, *, as_of):
        ok = real_classify(db, config, audience_id, as_of=as_of)
        frozen_clock.advance(minutes=7)  # the steps take time; the chain's moment does not move
        with db.session() as s:  # an admin saves a setting in the panel between two steps
            settings.change_setting(s, "admin@example.com", "engagement", "window_months", "12", base=config)
            s.commit()
        seen.append(("classify", config.engagement.window_months, as_of))
        return ok

    def watched(name, real):
        def step(db, config, audience_id, *, as_of):
            seen.append((name, config.engagement.window_months, as_of))
            return real(db, config, audience_id, as_of=as_of)
        return step

    monkeypatch.setattr(jobs, "classify_step", classify_then_save_a_setting)
    monkeypatch.setattr(jobs, "follow_ups", lambda config: [watched("policies", real_policies),
                                                           watched("sync", real_sync)])
    classify_all(database, mailchimp_config)
    assert [name for name, _, _ in seen] == ["classify", "policies", "sync"]
    assert {months for _, months, _ in seen} == {6}
    assert len({as_of for _, _, as_of in seen}) == 1
    chain = runs(session)
    assert [(r.job, r.status) for r in chain] == [("classify", "succeeded"), ("policies", "succeeded"),
                                                 ("sync", "succeeded"), ("outlook", "succeeded")]
    assert {r.as_of for r in chain} == {seen[0][2]} == {AS_OF}
    # The next chain takes the saved setting.
    seen.clear()
    classify_all(database, mailchimp_config)
    assert {months for _, months, _ in seen} == {12}


def test_classify_without_mailchimp_classifies_and_plans_the_next_actions(database, session, config, fake_mailchimp):
    mirrored_audience(session, fake_mailchimp, 4)
    classify_all(database, config)
    sync_all(database, config)
    pull_all(database, config)
    # no policies and no sync, but the dashboard's "Next" (what the policies would do) is stored
    assert [r.job for r in runs(session)] == ["classify", "value", "outlook"]


def test_pull_job_stores_activity_once(database, session, mailchimp_config, fake_mailchimp):
    mirrored_audience(session, fake_mailchimp, 3)
    pull_all(database, mailchimp_config)
    pull_all(database, mailchimp_config)
    assert [(r.job, r.status) for r in runs(session)] == [("pull", "succeeded"), ("pull", "succeeded")]


def test_panel_requests_run_once(database, session, mailchimp_config, fake_mailchimp):
    audience_id = mirrored_audience(session, fake_mailchimp, 8)
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
    audience_id = mirrored_audience(session, fake_mailchimp, 2)
    request_job(session, "sync", requested_by="admin@example.com", audience_id=audience_id)
    session.commit()
    run_requests(database, config)
    (run,) = runs(session, "sync")
    assert run.status == "failed" and "Mailchimp is not configured" in run.error
