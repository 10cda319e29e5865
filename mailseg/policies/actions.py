"""Exactly-once actions on the email platform.

An action (a static segment of frozen recipients and a campaign copied to it, or a campaign sent to a
mirrored tag) is recorded with its recipients before any platform call, under a unique key (policy,
day/attempt/version/occurrence). Each step commits the platform ids it obtained, and a re-run resumes
after the last recorded step. The two calls that are not idempotent (create a segment, create a
campaign) are preceded by a search for the object by a name that carries the key, so a crash between
the call and its recording adopts the object instead of making a second one. Scheduling looks at the
campaign's status first, so a campaign is scheduled (and sent) once.

Campaigns are replicas of their source (template, original, offer), so everything the marketer
set there — content, preview text, from name, reply-to, tracking and template settings — goes out
unchanged; then one update points the replica at the action's segment and gives it its subject and
a title carrying the key. The replica's id is committed as soon as the platform returns it; a crash
before that leaves a draft "<title> (copy NN)" that the re-run adopts (the newest draft copy of the
source made after the step began) instead of replicating again.

A step the platform refuses (ProviderError: a missing campaign, a rejected segment) fails only its
action: the error is recorded, the action waits actions.retry_minutes (doubling) before its next
try and is given up after actions.max_attempts; the other actions of the run go on. A rejected API
key (AuthenticationError) still stops the run: nothing else could work.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import Select, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from ..config import ActionsConfig, Config
from ..models import Campaign, PolicyAction, PolicyRecipient, Subscriber, utcnow
from ..providers import PlatformFactory
from ..providers.base import AuthenticationError, EmailPlatform, ProviderError
from ..sqlutil import chunked
from ..subscribers.status import StatusChange, change_statuses

log = logging.getLogger(__name__)
# Policies whose campaign goes out at once (a plan fires at its cadence); the others are scheduled.
SEND_NOW = {"plan"}
# Mailchimp schedules on the quarter-hour only, some minutes ahead.
SCHEDULE_LEAD = timedelta(minutes=5)


@dataclass(frozen=True)
class ActionSpec:
    """An action to record: who it targets (subscriber ids in column `id`, or None for a mirrored tag
    named segment_name) and the platform campaign copied for it."""

    policy: str
    key: str
    source_campaign: str
    recipients: Select | None
    kind: str
    subject: str | None = None
    segment_name: str | None = None
    parent_campaign_id: int | None = None
    variant: int = 1
    attempt: int = 1


@dataclass
class Platform:
    """What executing actions needs: the platform client, the list, and how to mirror a tag first."""

    client: EmailPlatform
    list_id: str
    tag_prefix: str
    # Mirrors a tag (e.g. the eligible tag) and returns its platform segment id.
    mirror_tag: Callable[[str], str] | None = None
    retry: ActionsConfig = field(default_factory=ActionsConfig)
    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    # The moment campaigns are sent or scheduled from: real time, or a simulation's clock.
    clock: Callable[[], datetime] = utcnow


def marker(key: str) -> str:
    """The text every platform object of an action carries: its segment name, its campaign title's start."""
    return f"[mailseg {key}]"


def exists(session: Session, audience_id: int, policy: str, key: str) -> bool:
    return session.scalar(select(PolicyAction.id).where(PolicyAction.audience_id == audience_id,
                                                        PolicyAction.policy == policy, PolicyAction.key == key)) is not None


def record(session: Session, audience_id: int, spec: ActionSpec, as_of: datetime,
           prefix: str) -> PolicyAction | None:
    """Record the action and its recipients (flushed, committed by the caller with its state changes).
    None when the key is recorded already or nobody is targeted."""
    if exists(session, audience_id, spec.policy, spec.key):
        return None
    action = PolicyAction(audience_id=audience_id, policy=spec.policy, key=spec.key, step="planned", as_of=as_of,
                          source_campaign=spec.source_campaign, subject=spec.subject, campaign_kind=spec.kind,
                          segment_name=spec.segment_name or f"{prefix}{spec.key}", variant=spec.variant,
                          attempt=spec.attempt, parent_campaign_id=spec.parent_campaign_id, details={})
    session.add(action)
    session.flush()
    if spec.recipients is not None:
        wanted = spec.recipients.subquery("wanted")
        session.execute(insert(PolicyRecipient).from_select(
            ["action_id", "subscriber_id"], select(literal(action.id), wanted.c.id).distinct()))
        action.recipients = recipient_count(session, action.id)
        if action.recipients == 0:
            session.delete(action)
            session.flush()
            return None
    return action


def recipient_count(session: Session, action_id: int) -> int:
    return session.scalar(select(func.count()).select_from(PolicyRecipient)
                          .where(PolicyRecipient.action_id == action_id)) or 0


def recipients_of(action_id: int) -> Select:
    return select(PolicyRecipient.subscriber_id.label("id")).where(PolicyRecipient.action_id == action_id)


def unfinished(session: Session, audience_id: int, now: datetime | None = None) -> list[PolicyAction]:
    """Actions to carry on: not done, not given up, and (with `now`) past their retry wait."""
    stmt = select(PolicyAction).where(PolicyAction.audience_id == audience_id, PolicyAction.finished_at.is_(None),
                                      PolicyAction.failed_at.is_(None))
    if now is not None:
        stmt = stmt.where(or_(PolicyAction.next_attempt_at.is_(None), PolicyAction.next_attempt_at <= now))
    return list(session.scalars(stmt.order_by(PolicyAction.id)))


def failed_actions(session: Session, audience_id: int) -> list[PolicyAction]:
    """Actions with a recorded failure that are not done: waiting for a retry, or given up."""
    return list(session.scalars(select(PolicyAction).where(
        PolicyAction.audience_id == audience_id, PolicyAction.finished_at.is_(None),
        PolicyAction.failures > 0).order_by(PolicyAction.id)))


def execute(session: Session, action: PolicyAction, platform: Platform) -> bool:
    """Carry the action from its recorded step to done, committing after every step. A step the
    platform refuses is recorded as the action's failure (see the module doc); returns whether
    the action is done."""
    steps = {"planned": _segment, "segment": _members, "members": _campaign, "campaign": _content,
             "content": _deliver}
    if action.policy == "sunset":
        steps = {"planned": _member_statuses}
    action_id = action.id
    try:
        while action.step != "done":
            steps[action.step](session, action, platform)
            action.updated_at = utcnow()
            if action.step == "done":
                action.finished_at = utcnow()
                action.next_attempt_at = None
            session.commit()
    except AuthenticationError:
        raise
    except ProviderError as exc:
        session.rollback()
        _record_failure(session, session.get(PolicyAction, action_id), str(exc), platform.retry)
        platform.failed.append(action.key)
        return False
    platform.done.append(action.key)
    return True


def _record_failure(session: Session, action: PolicyAction, reason: str, retry: ActionsConfig) -> None:
    """Count the failure; wait retry_minutes x 2^(failures - 1) before the next try, or give up."""
    now = utcnow()
    action.failures = (action.failures or 0) + 1
    action.error = f"{action.step}: {reason}"[:2000]
    action.updated_at = now
    if action.failures >= retry.max_attempts:
        action.failed_at, action.next_attempt_at = now, None
        log.warning("policy action %s given up after %d tries: %s", action.key, action.failures, reason)
    else:
        action.next_attempt_at = now + timedelta(minutes=retry.retry_minutes * 2 ** (action.failures - 1))
        log.warning("policy action %s failed (try %d of %d), next try at %s: %s", action.key, action.failures,
                    retry.max_attempts, action.next_attempt_at, reason)
    session.commit()


def _segment(session: Session, action: PolicyAction, platform: Platform) -> None:
    if action.policy == "plan" and action.recipients == 0 and platform.mirror_tag is not None:
        # without a holdout a plan goes to the mirrored eligible tag itself
        action.provider_segment_id = platform.mirror_tag(action.segment_name)
        action.step = "members"
        return
    ref = platform.client.ensure_static_segment(platform.list_id, action.segment_name)  # finds before creating
    action.provider_segment_id = ref.id
    action.step = "segment"


def _members(session: Session, action: PolicyAction, platform: Platform) -> None:
    """Add the frozen recipients to the static segment (adding is idempotent: a re-run repeats it)."""
    refused = 0
    emails = session.scalars(select(Subscriber.email).join(PolicyRecipient, PolicyRecipient.subscriber_id == Subscriber.id)
                             .where(PolicyRecipient.action_id == action.id).order_by(Subscriber.id))
    for batch in chunked(emails, platform.client.max_batch):
        answer = platform.client.update_segment(platform.list_id, action.provider_segment_id, add=batch, remove=[])
        refused += len(answer.errors)
    action.details = {**(action.details or {}), "refused": refused}
    action.step = "members"


def _campaign(session: Session, action: PolicyAction, platform: Platform) -> None:
    """Replicate the source, then point the replica at the segment with its subject and a title
    carrying the key (one update: a campaign whose title has the key is complete)."""
    client = platform.client
    source = client.campaign(action.source_campaign)
    subject = action.subject or source.subject or ""
    found = client.find_campaign(platform.list_id, marker(action.key))
    if found is not None:
        campaign_id = found.id
    else:
        campaign_id = (action.details or {}).get("replica") or _adopt_replica(client, platform.list_id, source, action)
        if campaign_id is None:
            campaign_id = client.replicate_campaign(source.id)
            action.details = {**(action.details or {}), "replica": campaign_id}
            session.commit()  # the replica is known before anything else can fail
        client.update_campaign(campaign_id, list_id=platform.list_id, segment_id=action.provider_segment_id,
                               title=f"{marker(action.key)} {source.title or source.id}"[:100], subject=subject)
    row = session.scalar(select(Campaign).where(Campaign.audience_id == action.audience_id,
                                                Campaign.provider_id == campaign_id))
    if row is None:
        row = Campaign(audience_id=action.audience_id, provider_id=campaign_id, status="draft",
                       name=f"{marker(action.key)} {source.title or ''}".strip())
        session.add(row)
    row.subject, row.kind, row.parent_id, row.variant = subject, action.campaign_kind or "regular", \
        action.parent_campaign_id, action.variant
    row.on_platform = True
    session.flush()
    action.provider_campaign_id, action.campaign_id, action.subject = campaign_id, row.id, subject
    action.step = "content"  # a replica has its content; the "content" step copies it for older actions


def _adopt_replica(client: EmailPlatform, list_id: str, source, action: PolicyAction) -> str | None:
    """A draft replica of the source made after this step began (a crash lost its id), if any."""
    replica = client.find_campaign(list_id, f"{source.title or ''} (copy")
    began = action.updated_at
    if (replica is None or replica.status != "save" or replica.created_at is None or began is None
            or replica.created_at < began - timedelta(minutes=1)):
        return None
    return replica.id


def _content(session: Session, action: PolicyAction, platform: Platform) -> None:
    """Actions recorded before campaigns were replicas: their campaign still needs the source's content."""
    platform.client.copy_content(action.source_campaign, action.provider_campaign_id)
    action.step = "content"


def _deliver(session: Session, action: PolicyAction, platform: Platform) -> None:
    """Schedule (or send) the campaign unless the platform shows it scheduled or sent already."""
    client = platform.client
    state = client.campaign(action.provider_campaign_id)
    now = platform.clock()
    if state.status == "save":
        if action.policy in SEND_NOW:
            client.send_campaign(action.provider_campaign_id)
            action.send_at = now
        else:
            action.send_at = next_quarter_hour(now + SCHEDULE_LEAD)
            client.schedule_campaign(action.provider_campaign_id, action.send_at)
    else:
        action.send_at = state.sent_at or action.send_at or now
    row = session.get(Campaign, action.campaign_id)
    if row is not None:
        row.status = "sent" if action.policy in SEND_NOW else "scheduled"
        row.sent_at = action.send_at
    action.step = "done"


def _member_statuses(session: Session, action: PolicyAction, platform: Platform) -> None:
    """The sunset on the platform: unsubscribe or archive each recipient (both idempotent)."""
    how = (action.details or {}).get("how", "unsubscribe")
    refused = 0
    emails = session.scalars(select(Subscriber.email).join(PolicyRecipient, PolicyRecipient.subscriber_id == Subscriber.id)
                             .where(PolicyRecipient.action_id == action.id).order_by(Subscriber.id))
    for email in emails:
        if how == "archive":
            problem = platform.client.archive_member(platform.list_id, email)
        else:
            problem = platform.client.update_member_status(platform.list_id, email, "unsubscribed")
        refused += problem is not None
    if how == "unsubscribe":
        now = utcnow()
        subscribed = session.scalars(select(Subscriber.id).where(Subscriber.id.in_(recipients_of(action.id)),
                                                                 Subscriber.status == "subscribed"))
        change_statuses(session, [StatusChange(sid, "unsubscribed", now, "policy:sunset") for sid in subscribed])
    action.details = {**(action.details or {}), "refused": refused}
    action.step = "done"


def next_quarter_hour(moment: datetime) -> datetime:
    moment = moment.replace(second=0, microsecond=0)
    extra = (-moment.minute) % 15
    return moment + timedelta(minutes=extra)


def make_platform(factory: PlatformFactory, list_id: str, config: Config,
                  mirror_tag: Callable[[str], str] | None = None,
                  clock: Callable[[], datetime] = utcnow) -> Platform:
    return Platform(factory(), list_id, config.sync.tag_prefix, mirror_tag, retry=config.actions, clock=clock)
