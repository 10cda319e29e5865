"""What the scheduler runs. Each job is a plain function over a Database and Config that calls the
domain for every audience; every step records its own job run (mailseg.runs), so `mailseg runs`
and the panel show each one. Jobs are idempotent: running one twice does no harm.

Settings saved in the panel apply: each step reads the effective config at the moment it runs.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime
from typing import Callable

from sqlalchemy import select

from ..config import Config
from ..db import Database
from ..models import Audience, utcnow
from ..runs import recorded_run
from ..settings import effective_config

log = logging.getLogger(__name__)

Job = Callable[[Database, Config], None]
# Campaign plans run as jobs with the id plan:<plan id>.
PLAN_JOB_PREFIX = "plan:"
# A step for one audience: (db, base config, audience id) -> whether it succeeded.
Step = Callable[[Database, Config, int], bool]


def audience_ids(db: Database) -> list[int]:
    with db.session() as session:
        return list(session.scalars(select(Audience.id).order_by(Audience.id)))


def mailchimp_configured(config: Config) -> bool:
    return bool(config.mailchimp.api_key)


def classify_step(db: Database, base: Config, audience_id: int, *, as_of: datetime | None = None) -> bool:
    from ..engagement import classify_audience

    with db.session() as session:
        try:
            result = classify_audience(session, audience_id, effective_config(session, base).engagement, as_of=as_of)
        except Exception:  # recorded as a failed run by classify_audience
            log.exception("classification of audience %s failed", audience_id)
            return False
    log.info("audience %s classified: %s changes", audience_id, result.changes)
    return True


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
                results = refresh_all(session, audience_id, effective_config(session, config).engagement, as_of=as_of)
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

    with db.session() as session:
        try:
            result = value_audience(session, audience_id, effective_config(session, config).value, as_of=as_of)
        except Exception:  # recorded as a failed run by value_audience
            log.exception("value run of audience %s failed", audience_id)
            return False
    log.info("audience %s valued: %s customers, changes %s", audience_id, result.customers, result.changes)
    return True


def sync_step(db: Database, base: Config, audience_id: int, *, dry_run: bool = False) -> bool:
    from ..providers import platform_factory
    from ..sync import plan_engagement_sync, sync_engagement

    with db.session() as session:
        config = effective_config(session, base)
        audience = session.get(Audience, audience_id)
        try:
            if dry_run:
                _record_dry_run(session, audience, plan_engagement_sync(session, audience, config))
            else:
                report = sync_engagement(session, audience, config, platform_factory(config, audience.provider))
                log.info("audience %s synced: %s batches", audience_id, report.batches)
        except Exception:  # recorded as a failed run by sync_engagement
            log.exception("sync of audience %s failed", audience_id)
            return False
    return True


def _record_dry_run(session, audience: Audience, plans) -> None:
    from ..runs import finish_run

    with recorded_run(session, "sync", audience_id=audience.id) as run:
        finish_run(session, run, {"dry_run": True, "tags": {
            plan.name: {"added": plan.adds, "removed": plan.removes, "failed": 0} for plan in plans}})


def policies_step(db: Database, base: Config, audience_id: int) -> bool:
    from ..policies import run_policies
    from ..providers import platform_factory

    with db.session() as session:
        config = effective_config(session, base)
        audience = session.get(Audience, audience_id)
        try:
            report = run_policies(session, audience, config, platform_factory(config, audience.provider))
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

    with db.session() as session:
        plan = session.get(CampaignPlan, plan_id)
        if plan is None:
            return
        effective = effective_config(session, config)
        audience = session.get(Audience, plan.audience_id)
        with recorded_run(session, "plan", audience_id=audience.id) as run:
            action = run_occurrence(session, plan_id, effective, platform_factory(effective, audience.provider))
            from ..runs import finish_run

            finish_run(session, run, {"plan": plan_id, "key": action.key if action else None,
                                      "campaign": action.provider_campaign_id if action else None})


def pull_step(db: Database, base: Config, audience_id: int) -> bool:
    from ..providers import platform_factory
    from ..sync.pull import pull_audience

    with db.session() as session:
        config = effective_config(session, base)
        audience = session.get(Audience, audience_id)
        try:
            pull_audience(session, audience, config, platform_factory(config, audience.provider)())
        except Exception:  # recorded as a failed run by pull_audience
            log.exception("pull of audience %s failed", audience_id)
            return False
    return True


def classify_all(db: Database, config: Config) -> None:
    """Classify every audience, then run its follow-up steps in order (value, segments, policies, sync),
    each only if the one before succeeded."""
    as_of = utcnow()
    for audience_id in audience_ids(db):
        if classify_step(db, config, audience_id, as_of=as_of):
            for step in follow_ups(config, as_of):
                if not step(db, config, audience_id):
                    break


def follow_ups(config: Config, as_of: datetime) -> list[Step]:
    """What runs after a classification: the value run and the rule segments (same as_of), then the
    policies and the sync (when Mailchimp is configured)."""
    value = functools.partial(value_step, as_of=as_of)
    segments = functools.partial(segments_step, as_of=as_of)
    return [value, segments, policies_step, sync_step] if mailchimp_configured(config) else [value, segments]


def _with_mailchimp(job: str, step: Step) -> Job:
    """A job running `step` for every audience, skipped (logged) while Mailchimp is not configured."""
    def run(db: Database, config: Config) -> None:
        if not mailchimp_configured(config):
            log.info("%s skipped: Mailchimp is not configured (mailchimp.api_key)", job)
            return
        for audience_id in audience_ids(db):
            step(db, config, audience_id)

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
        for target in targets:
            _run_requested(db, config, job, target, options)


def _run_requested(db: Database, config: Config, job: str, audience_id: int, options: dict) -> None:
    dry_run = bool(options.get("dry_run"))
    if job in ("sync", "pull", "policies") and not dry_run and not mailchimp_configured(config):
        with db.session() as session:
            try:
                with recorded_run(session, job, audience_id=audience_id):
                    raise RuntimeError("Mailchimp is not configured: set mailchimp.api_key, server and list_id")
            except RuntimeError:
                return
    if job == "sync":
        sync_step(db, config, audience_id, dry_run=dry_run)
    elif job == "pull":
        pull_step(db, config, audience_id)
    elif job == "classify":
        classify_step(db, config, audience_id)
    elif job == "value":
        value_step(db, config, audience_id, as_of=utcnow())
    elif job == "policies":
        policies_step(db, config, audience_id)


JOBS: dict[str, Job] = {
    "classify": classify_all,
    "pull": pull_all,
    "sync": sync_all,
    "requests": run_requests,
}


def run_job(name: str) -> None:
    """The entry point APScheduler stores (by reference, with the job's name as its argument)."""
    from .service import current_context

    db, config = current_context()
    if name.startswith(PLAN_JOB_PREFIX):
        run_plan(db, config, int(name[len(PLAN_JOB_PREFIX):]))
        return
    JOBS[name](db, config)
