"""Campaign reports: human opens apart from machine opens, clicks, and the resend versions of
each original with the opens each version added (the uplift of resending to non-openers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, aliased

from ..engagement.rules import EVENTS, counted_click, counted_open, human
from ..models import Campaign, Event
from ..sqlutil import in_chunks

PAGE_SIZE = 30


@dataclass
class CampaignStats:
    campaign: Campaign
    recipients: int = 0
    human_openers: int = 0
    machine_opens: int = 0
    human_clickers: int = 0
    bot_clicks: int = 0
    # For a resend version: people who opened this version and none before it.
    added_openers: int = 0
    versions: list["CampaignStats"] = field(default_factory=list)

    @property
    def open_rate(self) -> float:
        return self.human_openers / self.recipients if self.recipients else 0.0


def sent_campaigns(session: Session, audience_id: int, *, before: datetime | None = None,
                   limit: int = PAGE_SIZE) -> list[CampaignStats]:
    """Sent originals, newest first (ix_campaigns_audience_sent_at), each with its resend versions."""
    stmt = (select(Campaign).where(Campaign.audience_id == audience_id, Campaign.parent_id.is_(None),
                                   Campaign.sent_at.is_not(None), Campaign.status == "sent")
            .order_by(Campaign.sent_at.desc(), Campaign.id.desc()).limit(limit))
    if before is not None:
        stmt = stmt.where(Campaign.sent_at < before)
    originals = [CampaignStats(c) for c in session.scalars(stmt)]
    if not originals:
        return []
    by_id = {s.campaign.id: s for s in originals}
    versions = session.scalars(select(Campaign).where(Campaign.parent_id.in_(by_id))
                               .order_by(Campaign.parent_id, Campaign.variant))
    for version in versions:
        by_id[version.parent_id].versions.append(CampaignStats(version))
    everything = originals + [v for s in originals for v in s.versions]
    _fill_counts(session, {s.campaign.id: s for s in everything})
    for original in originals:
        for version in original.versions:
            version.added_openers = _added_openers(session, original.campaign.id, version.campaign)
    return originals


def scheduled_campaigns(session: Session, audience_id: int) -> list[Campaign]:
    return list(session.scalars(select(Campaign).where(Campaign.audience_id == audience_id, Campaign.status == "scheduled")
                                .order_by(Campaign.sent_at, Campaign.id)))


def _fill_counts(session: Session, stats: dict[int, CampaignStats]) -> None:
    """Human openers and clickers by the counted-event rule (engagement/rules.py; machine opens are
    shown apart, so they never count here), and the flagged opens and clicks beside them."""
    machine = ~human()
    for ids in in_chunks(list(stats)):
        rows = session.execute(
            select(Event.campaign_id,
                   func.count(func.distinct(case((Event.type == "send", Event.subscriber_id)))),
                   func.count(func.distinct(case((counted_open(False), Event.subscriber_id)))),
                   func.count(case((and_(Event.type == "open", machine), 1))),
                   func.count(func.distinct(case((counted_click(), Event.subscriber_id)))),
                   func.count(case((and_(Event.type == "click", machine), 1))))
            .where(Event.campaign_id.in_(ids)).group_by(Event.campaign_id))
        for campaign_id, recipients, openers, machine_opens, clickers, bot_clicks in rows:
            s = stats[campaign_id]
            s.recipients, s.human_openers, s.machine_opens = recipients, openers, machine_opens
            s.human_clickers, s.bot_clicks = clickers, bot_clicks


def _added_openers(session: Session, original_id: int, version: Campaign) -> int:
    """Human openers of this version with no human open of the original or an earlier version."""
    earlier_campaign = aliased(Campaign)
    earlier_open = EVENTS.alias("earlier_open")
    opened_earlier = (select(earlier_open.c.id).join(earlier_campaign, earlier_campaign.id == earlier_open.c.campaign_id)
                      .where(earlier_open.c.subscriber_id == Event.subscriber_id, counted_open(False, earlier_open),
                             ((earlier_campaign.id == original_id)
                              | ((earlier_campaign.parent_id == original_id) & (earlier_campaign.variant < version.variant))))
                      .exists())
    return session.scalar(select(func.count(func.distinct(Event.subscriber_id)))
                          .where(Event.campaign_id == version.id, counted_open(False), ~opened_earlier)) or 0
