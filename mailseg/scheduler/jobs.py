"""What the scheduler runs. Each job is a plain function over a Database and Config that calls the
domain for every audience; every step records its own job run (mailseg.runs), so `mailseg runs`
and the panel show each one. Jobs are idempotent: running one twice does no harm.

One clock and one configuration per job: a job reads the time once (its as_of) and the effective
configuration (file + panel settings) once when it starts, and hands both to every step, so the
chain classify -> policies -> sync computes for one moment with one set of settings even if a
panel setting is saved between its steps; their run records carry the same as_of.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Config
from ..db import Database
from ..models import Audience, utcnow
from ..runs import finish_run, recorded_run
from ..settings import effective_config

log = logging.getLogger(__name__)

Job = Callable[[Database, Config], None]
# Campaign plans run as jobs with the id plan:<plan id>.
PLAN_JOB_PREFIX = "plan:"


class Step(Protocol):
    """A step for one audience: (db, the job's config snapshot, audience id, as_of) -> whether it succeeded."""

    def __call__(self, db: Database, config: Config, audience_id: int, *, as_of: datetime) -> bool: ...


def snapshot(db: Database, base: Config) -> tuple[Config, datetime]:
    """The effective configuration and the moment a job works with, taken once at its start."""
    with db.session() as session:
        return effective_config(session, base), utcnow()


def audience_ids(db: Database) -> list[int]:
    with db.session() as session:
        return list(session.scalars(select(Audience.id).order_by(Audience.id)))


def mailchimp_configured(config: Config) -> bool:
    """A platform to talk to: the sandbox, or a Mailchimp account (the name predates the sandbox)."""
    from ..providers import platform_configured

    return platform_configured(config)


def _guarded(db: Database, what: str, audience_id: int, work: Callable[[Session], str | None]) -> bool:
    """One step's work in its own session. The domain function records a failure as a failed run;
    here it is logged and ends the chain for this audience (False). `work` returns a log line or None."""
    with db.session() as session:
        try:
            done = work(session)
        except Exception:
            log.exception("%s of audience %s failed", what, audience_id)
            return False
    if done:
        log.info("audience %s: %s", audience_id, done)
    return True


def classify_step(db: Database, config: Config, audience_id: int, *, as_of: datetime) -> bool:
    """The classification, then each subscriber's last human open and click with their new class
    (stored for the audience list's sort by last activity)."""
    from ..engagement import classify_audience
    from ..subscribers.activity import refresh_activity

    def work(session: Session) -> str:
        result = classify_audience(session, audience_id, config.engagement, as_of=as_of)
        active = refresh_activity(session, audience_id, as_of=as_of)
        session.commit()
        return f"classified, {result.changes} changes; last activity of {active} subscribers stored"

    return _guarded(db, "classification", audience_id, work)


def segments_step(db: Database, config: Config, audience_id: int, *, as_of: datetime) -> bool:
    """Evaluate every rule segment of the audience as of the chain's as_of (after classify and value),
    recorded as a job run "segments" (none while the audience has no segment)."""
    from ..runs import finish_run
    from ..segments import list_segments, refresh_all

    with db.session() as session:
        if not list_segments(session, audience_id):
            return True
        try:
            with recorded_run(session, "segments", audience_id=audience_id, as_of=as_of) as run:
                results = refresh_all(session, audience_id, config.engagement, as_of=as_of)
                finish_run(session, run, {"segments": {r.name: {"members": r.members, "joined": r.joined,
                                                                "left": r.left} for r in results}})
        except Exception:  # recorded as a failed run
            log.exception("segments of audience %s failed", audience_id)
            return False
    log.info("audience %s: %d segment(s) evaluated", audience_id, len(results))
    return True


def value_step(db: Database, config: Config, audience_id: int, *, as_of: datetime) -> bool:
    """The value run of the chain, after classify with the same as_of (RFM, ABC, CLV, quadrants)."""
    from ..value import value_audience

    def work(session: Session) -> str:
        result = value_audience(session, audience_id, config.value, as_of=as_of)
        return f"valued, {result.customers} customers, changes {result.changes}"

    return _guarded(db, "value run", audience_id, work)


def outlook_step(db: Database, config: Config, audience_id: int, *, as_of: datetime) -> bool:
    """What the policies will do next, computed once after each classification for the dashboard."""
    from ..policies.outlook import store_outlook

    def work(session: Session) -> None:
        store_outlook(session, session.get(Audience, audience_id), config, as_of=as_of)

    return _guarded(db, "outlook", audience_id, work)


def sync_step(db: Database, config: Config, audience_id: int, *, as_of: datetime, dry_run: bool = False) -> bool:
    from ..providers import platform_factory
    from ..policies.engine import plan_every_tag
    from ..sync import sync_engagement

    with db.session() as session:
        audience = session.get(Audience, audience_id)
        try:
            if dry_run:
                _record_dry_run(session, audience, plan_every_tag(session, audience, config), as_of)
            else:
                report = sync_engagement(session, audience, config, platform_factory(config, audience.provider),
                                         as_of=as_of)
                log.info("audience %s synced: %s batches", audience_id, report.batches)
        except Exception:  # recorded as a failed run by sync_engagement
            log.exception("sync of audience %s failed", audience_id)
            return False
    return True


def _record_dry_run(session, audience: Audience, plans, as_of: datetime) -> None:
    with recorded_run(session, "sync", audience_id=audience.id, as_of=as_of) as run:
        finish_run(session, run, {"dry_run": True, "tags": {
            plan.name: {"added": plan.adds, "removed": plan.removes, "failed": 0} for plan in plans}})


def policies_step(db: Database, config: Config, audience_id: int, *, as_of: datetime) -> bool:
    from ..policies import run_policies
    from ..providers import platform_factory

    with db.session() as session:
        audience = session.get(Audience, audience_id)
        try:
            # On the sandbox the chain's as_of is the platform's (possibly simulated) time; on a real
            # platform campaigns are scheduled from the real clock.
            clock = (lambda: as_of) if config.platform.kind == "sandbox" else utcnow
            report = run_policies(session, audience, config, platform_factory(config, audience.provider),
                                  as_of=as_of, clock=clock)
        except Exception:  # recorded as a failed run by run_policies
            log.exception("policies of audience %s failed", audience_id)
            return False
    log.info("audience %s policies: %d actions done", audience_id, len(report.done))
    return True


def run_plan(db: Database, config: Config, plan_id: int) -> None:
    """One occurrence of a campaign plan (a scheduler job with the id plan:<id>)."""
    from ..models import CampaignPlan
    from ..policies.plans import run_occurrence
    from ..providers import platform_factory

    effective, as_of = snapshot(db, config)
    with db.session() as session:
        plan = session.get(CampaignPlan, plan_id)
        if plan is None:
            return
        audience = session.get(Audience, plan.audience_id)
        with recorded_run(session, "plan", audience_id=audience.id, as_of=as_of) as run:
            action = run_occurrence(session, plan_id, effective, platform_factory(effective, audience.provider))
            finish_run(session, run, {"plan": plan_id, "key": action.key if action else None,
                                      "campaign": action.provider_campaign_id if action else None})


def pull_step(db: Database, config: Config, audience_id: int, *, as_of: datetime) -> bool:
    """Pull what the platform has up to `as_of` (the moment its watermarks are set from; a simulation's
    clock on the sandbox)."""
    from ..providers import platform_factory
    from ..sync.pull import pull_audience

    with db.session() as session:
        audience = session.get(Audience, audience_id)
        try:
            pull_audience(session, audience, config, platform_factory(config, audience.provider)(), as_of=as_of)
        except Exception:  # recorded as a failed run by pull_audience
            log.exception("pull of audience %s failed", audience_id)
            return False
    return True


def classify_all(db: Database, base: Config) -> None:
    """The chain: classify every audience, then its follow-up steps in order, each only if the one
    before succeeded, all with one as_of and one configuration snapshot taken here."""
    config, as_of = snapshot(db, base)
    for audience_id in audience_ids(db):
        run_chain(db, config, audience_id, as_of=as_of)


def run_chain(db: Database, config: Config, audience_id: int, *, as_of: datetime) -> bool:
    """classify -> follow-ups for one audience with the given snapshot; False at the first failed step."""
    for step in [classify_step, *follow_ups(config)]:
        if not step(db, config, audience_id, as_of=as_of):
            return False
    outlook_step(db, config, audience_id, as_of=as_of)  # what the next run will do, for the dashboard
    return True


def uplift_step(db: Database, config: Config, audience_id: int, *, as_of: datetime) -> bool:
    """The verdicts of experiment cohorts whose horizon has closed (each computed once)."""
    from ..experiments.uplift import freeze_due

    def work(session: Session) -> None:
        freeze_due(session, audience_id, config, as_of)

    return _guarded(db, "uplift verdicts", audience_id, work)


def follow_ups(config: Config) -> list[Step]:
    """What runs after a classification, with its as_of: the value run and the rule segments, then the policies and the sync
    (when a platform is configured), then the verdicts of experiments whose horizon closed."""
    if mailchimp_configured(config):
        return [value_step, segments_step, policies_step, sync_step, uplift_step]
    return [value_step, segments_step, uplift_step]


def _with_mailchimp(job: str, step: Step) -> Job:
    """A job running `step` for every audience (one snapshot for all), skipped (logged) while
    Mailchimp is not configured."""
    def run(db: Database, base: Config) -> None:
        if not mailchimp_configured(base):
            log.info("%s skipped: Mailchimp is not configured (mailchimp.api_key)", job)
            return
        config, as_of = snapshot(db, base)
        for audience_id in audience_ids(db):
            step(db, config, audience_id, as_of=as_of)

    return run


sync_all = _with_mailchimp("sync", sync_step)
pull_all = _with_mailchimp("pull", pull_step)


def run_requests(db: Database, config: Config) -> None:
    """Run the jobs queued from the panel ("sync now", "dry run", ...), each claimed once."""
    from ..jobrequests import claim_request, pending_requests

    with db.session() as session:
        pending = [(r.id, r.job, r.audience_id, dict(r.options or {})) for r in pending_requests(session)]
    for request_id, job, audience_id, options in pending:
        with db.session() as session:
            if not claim_request(session, request_id):
                continue  # another scheduler took it
            session.commit()
        targets = [audience_id] if audience_id is not None else audience_ids(db)
        effective, as_of = snapshot(db, config)
        for target in targets:
            _run_requested(db, effective, job, target, options, as_of)


def _run_requested(db: Database, config: Config, job: str, audience_id: int, options: dict,
                   as_of: datetime) -> None:
    dry_run = bool(options.get("dry_run"))
    if job in ("sync", "pull", "policies") and not dry_run and not mailchimp_configured(config):
        with db.session() as session:
            try:
                with recorded_run(session, job, audience_id=audience_id):
                    raise RuntimeError("Mailchimp is not configured: set mailchimp.api_key, server and list_id")
            except RuntimeError:
                return
    if job == "sync":
        sync_step(db, config, audience_id, as_of=as_of, dry_run=dry_run)
    elif job == "pull":
        pull_step(db, config, audience_id, as_of=as_of)
    elif job == "classify":
        classify_step(db, config, audience_id, as_of=as_of)
    elif job == "value":
        value_step(db, config, audience_id, as_of=as_of)
    elif job == "policies":
        policies_step(db, config, audience_id, as_of=as_of)


JOBS: dict[str, Job] = {
    "classify": classify_all,
    "pull": pull_all,
    "sync": sync_all,
    "requests": run_requests,
}


def run_job(name: str) -> None:
    """The entry point APScheduler stores (by reference, with the job's name as its argument)."""
    from .context import current, still_leading

    db, config = current().db, current().config
    if not still_leading():
        log.warning("job %s skipped: this scheduler is no longer the active one", name)
        return
    if name.startswith(PLAN_JOB_PREFIX):
        run_plan(db, config, int(name[len(PLAN_JOB_PREFIX):]))
        return
    JOBS[name](db, config)
