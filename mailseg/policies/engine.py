"""Running the policies for one audience (`mailseg run-policies`, the scheduler's step after each
classification), and the dry run (`mailseg plan`) that says what they would do and writes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Config
from ..models import Audience, PolicyAction, utcnow
from ..progress import Progress
from ..providers import PlatformFactory
from ..runs import finish_run, recorded_run
from ..timeutil import isoformat_utc
from ..sync.classes import provider_list_id, sync_options
from ..sync.engine import Plan, SegmentSpec, SyncReport, plan_segments, sync_segments
from ..sync.state import recorded_segment
from . import actions, frequency, offer, reengagement, resend
from .frequency import CapFigures
from .reengagement import ReengagementPlan


@dataclass
class PolicyReport:
    resumed: list[str] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    recipients: dict[str, int] = field(default_factory=dict)  # action key -> recipients
    tags: SyncReport = field(default_factory=SyncReport)
    # Actions that failed in this run: key -> {error, failures, next_attempt_at | gave_up_at}.
    failed: dict[str, dict] = field(default_factory=dict)
    cap_exposures: int = 0  # inactive subscribers entering the cap's experiment today (both groups)

    def summary(self) -> dict:
        return {"resumed": self.resumed, "recorded": self.recorded, "done": self.done,
                "recipients": self.recipients, "failed": self.failed, "cap_exposures": self.cap_exposures,
                **self.tags.summary()}

    def problems(self) -> list[str]:
        return [f"{key} failed ({info['failures']} tries"
                + (", given up" if info.get("gave_up_at") else f", next try {info['next_attempt_at']}")
                + f"): {info['error']}" for key, info in self.failed.items()]


@dataclass(frozen=True)
class ResendPlan:
    key: str
    original: str
    subject: str
    recipients: int
    held_out: int = 0


@dataclass
class PolicyPlan:
    as_of: datetime
    cap: CapFigures
    eligible_tag: Plan
    reengagement: ReengagementPlan
    resends: list[ResendPlan]
    offers: int
    offer_configured: bool
    unfinished: list[str]
    audience_id: int = 0


def policy_tags(audience_id: int, config: Config, as_of: datetime) -> list[SegmentSpec]:
    """The tags the policies keep on the platform: the frequency cap's eligible tag and the sunset tag."""
    return [frequency.eligible_spec(audience_id, config, as_of), reengagement.sunset_spec(audience_id, config)]


def plan_every_tag(session: Session, audience: Audience, config: Config, *,
                   as_of: datetime | None = None) -> list[Plan]:
    """Every tag mailseg keeps on the platform and what a sync would add and remove in each: the
    class tags (`mailseg sync`) and the policy tags — the frequency cap's eligible tag and the sunset
    tag (mirrored by the policies run). Calls nothing and writes nothing."""
    from ..sync import plan_engagement_sync

    as_of = as_of or utcnow()
    return [*plan_engagement_sync(session, audience, config),
            *plan_segments(session, audience.id, policy_tags(audience.id, config, as_of), sync_options(config))]


def policy_platform(session: Session, audience: Audience, config: Config, factory: PlatformFactory,
                    as_of: datetime, clock: Callable[[], datetime] = utcnow) -> actions.Platform:
    """A platform for executing actions; plans mirror the eligible tag before sending to it."""
    list_id = provider_list_id(audience, config)

    def mirror_tag(name: str) -> str:
        sync_segments(session, audience.id, list_id, [frequency.eligible_spec(audience.id, config, as_of)],
                      factory, sync_options(config))
        return recorded_segment(session, audience.id, name).provider_segment_id

    return actions.make_platform(factory, list_id, config, mirror_tag, clock)


def run_policies(session: Session, audience: Audience, config: Config, platform_factory: PlatformFactory,
                 *, as_of: datetime | None = None, progress: Progress | None = None,
                 clock: Callable[[], datetime] = utcnow) -> PolicyReport:
    """Finish unfinished actions, record today's (re-engagement and sunset, resends, offers), carry
    each to the platform, then mirror the eligible and sunset tags; recorded as a job run "policies".
    An action the platform refuses fails alone (recorded with its reason, retried with backoff in
    later runs): the others go on and the run ends "partial". `clock` gives the moment campaigns are
    scheduled from (a simulation passes its own)."""
    as_of = as_of or utcnow()
    report = PolicyReport()
    with recorded_run(session, "policies", audience_id=audience.id, as_of=as_of) as run:
        platform = policy_platform(session, audience, config, platform_factory, as_of, clock)
        report.resumed = [a.key for a in actions.unfinished(session, audience.id, utcnow())]
        _execute_unfinished(session, audience.id, platform, progress)
        for policy in (reengagement, resend, offer):
            report.recorded += [a.key for a in policy.record(session, audience.id, config, as_of)]
        report.cap_exposures = frequency.record_exposures(session, audience.id, config, as_of)
        session.commit()
        _execute_unfinished(session, audience.id, platform, progress)
        sync_segments(session, audience.id, platform.list_id, policy_tags(audience.id, config, as_of),
                      platform_factory, sync_options(config), report=report.tags)
        report.done = platform.done
        report.recipients = {key: n for key, n in session.execute(
            select(PolicyAction.key, PolicyAction.recipients).where(
                PolicyAction.audience_id == audience.id, PolicyAction.key.in_(platform.done or [""])))}
        report.failed = {a.key: _failure(a) for a in actions.failed_actions(session, audience.id)
                         if a.key in platform.failed}
        finish_run(session, run, report.summary(), problems=report.problems())
    return report


def _failure(action: PolicyAction) -> dict:
    info = {"error": action.error, "failures": action.failures}
    if action.failed_at is not None:
        info["gave_up_at"] = isoformat_utc(action.failed_at)
    else:
        info["next_attempt_at"] = isoformat_utc(action.next_attempt_at)
    return info


def _execute_unfinished(session: Session, audience_id: int, platform: actions.Platform,
                        progress: Progress | None) -> None:
    """Every action due now (a failed one waits for its retry time), each on its own: one that
    fails does not stop the next."""
    for action in actions.unfinished(session, audience_id, utcnow()):
        actions.execute(session, action, platform)
        if progress is not None:
            progress.advance(1)


def plan_policies(session: Session, audience: Audience, config: Config, *, as_of: datetime | None = None) -> PolicyPlan:
    """What run_policies would do at as_of: counts, segments and campaigns. Writes nothing."""
    as_of = as_of or utcnow()
    eligible = plan_segments(session, audience.id, [frequency.eligible_spec(audience.id, config, as_of)],
                             sync_options(config))[0]
    resends = [ResendPlan(r.key, r.original.name or r.original.provider_id, r.subject,
                          *resend.count(session, audience.id, config, r, config.resend))
               for r in resend.due(session, audience.id, config, as_of)]
    plan = PolicyPlan(as_of, frequency.cap_figures(session, audience.id, config, as_of), eligible,
                      reengagement.plan(session, audience.id, config, as_of), resends,
                      offer.count(session, audience.id, config, as_of), bool(config.offer.campaign_id),
                      [a.key for a in actions.unfinished(session, audience.id)], audience.id)
    session.rollback()
    return plan
