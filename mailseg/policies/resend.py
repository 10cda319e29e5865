"""Resend to non-openers: resend.after_days after a regular campaign (or its latest version) went
out, the recipients of the original without a human open of any version so far (machine-only opens
count as not opened; unsubscribed, cleaned and complained addresses and the sunset are left out)
get the next version with the next subject, up to resend.max_versions in all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from ..config import Config
from ..engagement.rules import counted_open
from ..models import Campaign, Event, PolicyAction, Subscriber
from ..experiments import exposures
from ..experiments.exposures import split
from . import actions
from .actions import ActionSpec
from .common import mailable


@dataclass(frozen=True)
class DueResend:
    original: Campaign
    variant: int
    subject: str
    version_ids: tuple[int, ...]  # the original and the versions sent so far

    @property
    def key(self) -> str:
        return f"resend:{self.original.provider_id}:v{self.variant}"


def non_openers(audience_id: int, original_id: int, version_ids: tuple[int, ...], targeting=None):
    """Recipients of the original (its send events) with no human open of any version so far
    (within resend.segment / resend.exclude_segment when given)."""
    opened = exists(select(Event.id).where(Event.subscriber_id == Subscriber.id, counted_open(False),
                                           Event.campaign_id.in_(version_ids)))  # machine-only opens: not opened
    sent = exists(select(Event.id).where(Event.subscriber_id == Subscriber.id, Event.type == "send",
                                         Event.campaign_id == original_id))
    return select(Subscriber.id).where(mailable(audience_id, targeting), sent, ~opened)


def subject_for(config: Config, original: Campaign, variant: int) -> str:
    """The campaign's own variant list, else resend.subjects; the last one repeats if versions outnumber it."""
    subjects = original.resend_subjects or config.resend.subjects
    template = subjects[min(variant - 2, len(subjects) - 1)]
    return template.format(subject=original.subject or "")


def resend_wanted(config: Config):
    """Campaigns switched on, plus those following the rule when the rule is on."""
    if config.resend.all_regular:
        return or_(Campaign.resend_enabled.is_(None), Campaign.resend_enabled.is_(True))
    return Campaign.resend_enabled.is_(True)


class CampaignNotFound(LookupError):
    pass


KEEP: Any = object()  # leave this setting as it is


def configure_resend(session: Session, audience_id: int, provider_id: str, *, enabled: bool | None = KEEP,
                     subjects: list[str] | None = KEEP) -> Campaign:
    """Switch resend on/off for one campaign (None: follow resend.all_regular) and set its subject
    variants (None: resend.subjects). Subjects are checked like the config key."""
    campaign = session.scalar(select(Campaign).where(Campaign.audience_id == audience_id,
                                                     Campaign.provider_id == provider_id))
    if campaign is None:
        raise CampaignNotFound(f"no campaign {provider_id!r} in this audience (run `mailseg pull` first?)")
    if subjects is not KEEP:
        if subjects is not None:
            Config().replace(resend={"subjects": subjects})  # the same rules as the config file
        campaign.resend_subjects = subjects
    if enabled is not KEEP:
        campaign.resend_enabled = enabled
    session.flush()
    return campaign


def due(session: Session, audience_id: int, config: Config, as_of: datetime) -> list[DueResend]:
    """Originals whose next version is due: the latest version went out between after_days and
    2 x after_days ago (older ones are not resent late), and no version is still being made.
    Only campaigns the platform is known to have (Campaign.on_platform: made by mailseg, seen by
    `mailseg pull` or a Mailchimp webhook): one known only from an imported file cannot be copied."""
    after = timedelta(days=config.resend.after_days)
    oldest = as_of - after * (config.resend.max_versions + 1)
    originals = session.scalars(select(Campaign).where(
        Campaign.audience_id == audience_id, Campaign.kind == "regular", Campaign.parent_id.is_(None),
        resend_wanted(config),
        Campaign.status == "sent", Campaign.provider_id.is_not(None), Campaign.on_platform.is_(True),
        Campaign.sent_at > oldest,
        Campaign.sent_at <= as_of - after).order_by(Campaign.sent_at, Campaign.id)).all()
    out = []
    for original in originals:
        versions = session.scalars(select(Campaign).where(Campaign.parent_id == original.id)
                                   .order_by(Campaign.variant)).all()
        if any(v.sent_at is None for v in versions) or _in_progress(session, audience_id, original):
            continue
        variant = max([original.variant] + [v.variant for v in versions]) + 1
        latest = max([original.sent_at] + [v.sent_at for v in versions])
        if variant > config.resend.max_versions or not (as_of - 2 * after < latest <= as_of - after):
            continue
        out.append(DueResend(original, variant, subject_for(config, original, variant),
                             (original.id, *(v.id for v in versions))))
    return out


def _in_progress(session: Session, audience_id: int, original: Campaign) -> bool:
    return session.scalar(select(PolicyAction.id).where(
        PolicyAction.audience_id == audience_id, PolicyAction.policy == "resend",
        PolicyAction.parent_campaign_id == original.id, PolicyAction.finished_at.is_(None),
        PolicyAction.failed_at.is_(None))) is not None


def count(session: Session, audience_id: int, config: Config, resend: DueResend, targeting=None) -> tuple[int, int]:
    """(treated, held out) non-openers the version would go to now."""
    treated, held = split(config, "resend", non_openers(audience_id, resend.original.id, resend.version_ids, targeting))
    return tuple(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0  # type: ignore[return-value]
                 for stmt in (treated, held))


def record(session: Session, audience_id: int, config: Config, as_of: datetime) -> list[PolicyAction]:
    """Record each due version for the treated non-openers; the held-out non-openers (who never get a
    version, so are non-openers of the original) are recorded as the version's control group."""
    recorded = []
    for resend in due(session, audience_id, config, as_of):
        treated, held = split(config, "resend", non_openers(audience_id, resend.original.id, resend.version_ids,
                                                             config.resend))
        spec = ActionSpec("resend", resend.key, resend.original.provider_id, treated, kind="resend",
                          subject=resend.subject, parent_campaign_id=resend.original.id, variant=resend.variant)
        action = actions.record(session, audience_id, spec, as_of, config.sync.tag_prefix)
        if action is not None:
            recorded.append(action)
            exposures.record_action(session, audience_id, config, "resend", action, variant=resend.variant,
                                    campaign_id=resend.original.id)
        exposures.record(session, audience_id, config, "resend", resend.key, held, held=True, as_of=as_of,
                         variant=resend.variant, campaign_id=resend.original.id)
        session.commit()
    return recorded

