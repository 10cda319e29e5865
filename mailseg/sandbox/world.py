"""The sandbox's world: its lists and clock, members with their hidden traits, template campaigns,
and delivery (who receives a campaign, then the behaviour model's reactions, all stored)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import String, bindparam, false, func, insert, literal, select, update
from sqlalchemy.orm import Session

from ..config import SandboxConfig
from ..models import (SandboxActivity, SandboxCampaign, SandboxList, SandboxMember, SandboxRecipient,
                      SandboxSegmentMember, UTCDateTime, normalise_email, utcnow)
from . import behaviour

FATIGUE_DAYS = 28
CHUNK = 5000
MEMBERS = SandboxMember.__table__
CAMPAIGNS = SandboxCampaign.__table__
RECIPIENTS = SandboxRecipient.__table__
ACTIVITY = SandboxActivity.__table__
SEGMENT_MEMBERS = SandboxSegmentMember.__table__


def now(s: Session, list_id: str) -> datetime:
    """The platform's clock for the list: the simulated moment, or real time when none is set."""
    clock = s.scalar(select(SandboxList.clock).where(SandboxList.id == list_id))
    return clock or utcnow()


def ensure_list(s: Session, list_id: str, name: str = "Sandbox audience", *, clock: datetime | None = None) -> SandboxList:
    row = s.get(SandboxList, list_id)
    if row is None:
        row = SandboxList(id=list_id, name=name, clock=clock, created_at=clock or utcnow())
        s.add(row)
        s.flush()
    return row


@dataclass(frozen=True)
class NewMember:
    email: str
    subscribed_at: datetime
    status: str = "subscribed"
    merge_fields: dict | None = None
    # Hidden traits; None draws them from the behaviour model's shares (seeded by the address).
    state: str | None = None
    propensity: float | None = None
    apple: bool | None = None
    scanner: bool | None = None


def add_members(s: Session, list_id: str, members: list[NewMember], cfg: SandboxConfig) -> int:
    """Add members (existing addresses are left as they are); returns how many were new."""
    existing = set(s.scalars(select(SandboxMember.email).where(SandboxMember.list_id == list_id)))
    rows = []
    for m in members:
        email = normalise_email(m.email)
        if email in existing:
            continue
        existing.add(email)
        drawn = behaviour.traits(cfg, email)
        rows.append({"list_id": list_id, "email": email, "status": m.status, "merge_fields": m.merge_fields or {},
                     "subscribed_at": m.subscribed_at, "last_changed": m.subscribed_at,
                     "state": m.state or drawn.state,
                     "propensity": drawn.propensity if m.propensity is None else m.propensity,
                     "apple": drawn.apple if m.apple is None else m.apple,
                     "scanner": drawn.scanner if m.scanner is None else m.scanner})
    for offset in range(0, len(rows), CHUNK):
        s.execute(insert(MEMBERS), rows[offset:offset + CHUNK])
    return len(rows)


def add_template(s: Session, list_id: str, *, title: str, subject: str, html: str, nature: str = "regular",
                 from_name: str = "Shop", reply_to: str = "shop@example.com") -> str:
    """A draft campaign a marketer prepared on the platform (a template mailseg copies); `nature` is
    what it is to its readers: regular, reengagement or offer."""
    if nature not in behaviour.NATURES:
        raise ValueError(f"nature must be one of {', '.join(behaviour.NATURES)}, got {nature!r}")
    row = SandboxCampaign(id=new_campaign_id(s, list_id), list_id=list_id, title=title, subject=subject,
                          from_name=from_name, reply_to=reply_to, html=html, nature=nature,
                          content_key=hashlib.sha1(html.encode()).hexdigest(), created_at=now(s, list_id))
    s.add(row)
    s.flush()
    return row.id


@dataclass(frozen=True)
class Templates:
    newsletter: str
    reengagement: str
    offer: str


def add_marketing_templates(s: Session, list_id: str) -> Templates:
    """The three campaigns a marketer prepares for mailseg's policies: a newsletter (copied by a campaign
    plan), a re-engagement mail and an offer."""
    return Templates(
        add_template(s, list_id, title="Weekly newsletter", subject="This week at the shop",
                     html="<p>This week's picks</p>"),
        add_template(s, list_id, title="We miss you", subject="Still interested?",
                     html="<p>Tell us what you'd like to read</p>", nature="reengagement"),
        add_template(s, list_id, title="A thank-you offer", subject="10% off, just for you",
                     html="<p>Your code: THANKS10</p>", nature="offer"))


def new_campaign_id(s: Session, list_id: str) -> str:
    """The next campaign id of the list: sequential, so the same seed and the same calls give the same
    campaigns and the same reactions (the behaviour model draws per campaign id)."""
    count = s.scalar(select(func.count()).select_from(SandboxCampaign).where(SandboxCampaign.list_id == list_id)) or 0
    return f"{list_id}-c{count + 1:06d}"


def set_clock(s: Session, list_id: str, moment: datetime, cfg: SandboxConfig) -> None:
    """Move the list's clock forward to `moment`: hidden states drift over the elapsed time
    (behaviour.drift), then scheduled campaigns now due are delivered."""
    row = s.get(SandboxList, list_id)
    previous = row.clock
    if previous is not None and moment < previous:
        raise ValueError(f"the sandbox clock only moves forward ({previous.isoformat()} -> {moment.isoformat()})")
    if previous is not None and moment > previous:
        _drift(s, list_id, previous, moment, cfg)
    row.clock = moment
    s.flush()
    deliver_due(s, list_id, cfg)


def follow_real_time(s: Session, list_id: str) -> None:
    """Let the list's clock follow real time again (after a simulation that caught up with now)."""
    s.get(SandboxList, list_id).clock = None
    s.flush()


def deliver_due(s: Session, list_id: str, cfg: SandboxConfig) -> int:
    """Deliver scheduled campaigns whose time has come (what the platform does on its own)."""
    moment = now(s, list_id)
    due = s.scalars(select(SandboxCampaign).where(SandboxCampaign.list_id == list_id,
                                                  SandboxCampaign.status == "schedule",
                                                  SandboxCampaign.send_time <= moment)
                    .order_by(SandboxCampaign.send_time, SandboxCampaign.id)).all()
    for campaign in due:
        deliver(s, campaign, campaign.send_time, cfg)
    return len(due)


def deliver(s: Session, campaign: SandboxCampaign, at: datetime, cfg: SandboxConfig) -> int:
    """Send the campaign to its segment's (or list's) subscribed members at `at`, then store the
    behaviour model's reactions. Returns the recipients.

    Set-based: the recipients' traits are read in one statement and written by one INSERT ... SELECT
    with the same condition; their deliveries in the last FATIGUE_DAYS and whether they got this content
    before are two single-table aggregates merged in numpy. (Joined to the members as subqueries,
    PostgreSQL planned the aggregate for "1 row" and re-ran it per member: minutes at 100,000.) Only the
    reactions' rows pass through Python."""
    campaign.status, campaign.send_time = "sent", at
    s.flush()
    audience = select(MEMBERS.c.id).where(MEMBERS.c.list_id == campaign.list_id, MEMBERS.c.status == "subscribed")
    if campaign.segment_id is not None:
        audience = audience.join(SEGMENT_MEMBERS, SEGMENT_MEMBERS.c.member_id == MEMBERS.c.id).where(
            SEGMENT_MEMBERS.c.segment_id == campaign.segment_id)
    rows = s.execute(audience.add_columns(MEMBERS.c.state, MEMBERS.c.propensity, MEMBERS.c.apple, MEMBERS.c.scanner)
                     .order_by(MEMBERS.c.id)).all()
    if not rows:
        return 0
    s.execute(insert(RECIPIENTS).from_select(
        ["campaign_id", "member_id", "delivered_at", "content_key"],
        audience.with_only_columns(literal(campaign.id), MEMBERS.c.id, literal(at, UTCDateTime),
                                   literal(campaign.content_key, String))))
    ids, state, propensity, apple, scanner = (np.array(column) for column in zip(*rows))
    ids = ids.astype(np.int64)
    seen = np.array(s.scalars(_seen(campaign)).all(), dtype=np.int64)
    audience_arrays = behaviour.Recipients(
        ids=ids, state=state, propensity=propensity.astype(float), apple=apple.astype(bool),
        scanner=scanner.astype(bool), recent=_recent_counts(s, campaign.list_id, at, ids),
        repeat=np.isin(ids, seen))
    reactions = behaviour.react(cfg, campaign.id, campaign.nature, at, audience_arrays)
    for offset in range(0, len(reactions.activity), CHUNK):
        s.execute(insert(ACTIVITY), reactions.activity[offset:offset + CHUNK])
    for new_state, member_ids in reactions.new_state.items():
        _set(s, member_ids, state=new_state)
    for status, changes in reactions.new_status.items():
        if changes:
            s.connection().execute(
                update(MEMBERS).where(MEMBERS.c.id == bindparam("member")).values(status=status,
                                                                                 last_changed=bindparam("moment")),
                [{"member": member_id, "moment": moment} for member_id, moment in changes])
    return len(rows)


def _set(s: Session, member_ids: list[int], **values) -> None:
    for offset in range(0, len(member_ids), CHUNK):
        s.execute(update(MEMBERS).where(MEMBERS.c.id.in_(member_ids[offset:offset + CHUNK])).values(**values))


def _recent_counts(s: Session, list_id: str, at: datetime, ids: np.ndarray) -> np.ndarray:
    """Deliveries in the FATIGUE_DAYS before `at` of each member in `ids` (sorted), the fatigue of
    frequent mail. Read through the list's campaigns sent in that time, so the recipients' primary
    key (campaign_id, member_id) finds them: the cost follows the recent mail, not all history."""
    since = at - timedelta(days=FATIGUE_DAYS)
    campaigns = select(CAMPAIGNS.c.id).where(CAMPAIGNS.c.list_id == list_id, CAMPAIGNS.c.status == "sent",
                                             CAMPAIGNS.c.send_time > since, CAMPAIGNS.c.send_time < at)
    counts = s.execute(select(RECIPIENTS.c.member_id, func.count())
                       .where(RECIPIENTS.c.campaign_id.in_(campaigns), RECIPIENTS.c.delivered_at > since,
                              RECIPIENTS.c.delivered_at < at)
                       .group_by(RECIPIENTS.c.member_id)).all()
    out = np.zeros(len(ids), dtype=np.int64)
    if counts:
        member, n = (np.array(column, dtype=np.int64) for column in zip(*counts))
        at_index = np.searchsorted(ids, member)
        found = (at_index < len(ids)) & (ids[np.minimum(at_index, len(ids) - 1)] == member)
        out[at_index[found]] = n[found]
    return out


def _seen(campaign: SandboxCampaign):
    """SQL: ids of members who received the campaign's content before, from another campaign of the
    list with the same content (a resend version); none for a campaign without content."""
    earlier = select(CAMPAIGNS.c.id).where(CAMPAIGNS.c.list_id == campaign.list_id, CAMPAIGNS.c.id != campaign.id,
                                           CAMPAIGNS.c.content_key == campaign.content_key)
    if campaign.content_key is None:
        earlier = earlier.where(false())
    return select(RECIPIENTS.c.member_id).where(RECIPIENTS.c.campaign_id.in_(earlier)).distinct()


def _drift(s: Session, list_id: str, start: datetime, end: datetime, cfg: SandboxConfig) -> None:
    if cfg.wake_per_week == 0 and cfg.fade_per_week == 0:
        return  # a model without drift
    rows = s.execute(select(MEMBERS.c.id, MEMBERS.c.state).where(
        MEMBERS.c.list_id == list_id, MEMBERS.c.status == "subscribed").order_by(MEMBERS.c.id)).all()
    if not rows:
        return
    ids, state = (np.array(column) for column in zip(*rows))
    ids = ids.astype(np.int64)
    moves = behaviour.drift(cfg, list_id, start, end, ids, state, _recent_counts(s, list_id, end, ids))
    for new_state, member_ids in moves.items():
        _set(s, member_ids, state=new_state)
