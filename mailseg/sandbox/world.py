"""The sandbox's world: its lists and clock, members with their hidden traits, template campaigns,
and delivery (who receives a campaign, then the behaviour model's reactions, all stored)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from ..config import SandboxConfig
from ..models import (SandboxActivity, SandboxCampaign, SandboxList, SandboxMember, SandboxRecipient,
                      SandboxSegmentMember, normalise_email, utcnow)
from . import behaviour

FATIGUE_DAYS = 28


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
    for offset in range(0, len(rows), 5000):
        s.execute(insert(SandboxMember), rows[offset:offset + 5000])
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
    behaviour model's reactions. Returns the recipients."""
    members = select(SandboxMember).where(SandboxMember.list_id == campaign.list_id,
                                          SandboxMember.status == "subscribed")
    if campaign.segment_id is not None:
        members = members.join(SandboxSegmentMember, SandboxSegmentMember.member_id == SandboxMember.id).where(
            SandboxSegmentMember.segment_id == campaign.segment_id)
    rows = s.execute(members.with_only_columns(SandboxMember.id, SandboxMember.state, SandboxMember.propensity,
                                               SandboxMember.apple, SandboxMember.scanner)
                     .order_by(SandboxMember.id)).all()
    campaign.status, campaign.send_time = "sent", at
    s.flush()
    if not rows:
        return 0
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    recent = _recent_deliveries(s, campaign.list_id, at)
    seen = _seen_content(s, campaign.content_key) if campaign.content_key else set()
    audience = behaviour.Recipients(
        ids=ids, state=np.array([r[1] for r in rows]), propensity=np.array([r[2] for r in rows], dtype=float),
        apple=np.array([bool(r[3]) for r in rows]), scanner=np.array([bool(r[4]) for r in rows]),
        recent=np.array([recent.get(int(i), 0) for i in ids], dtype=np.int64),
        repeat=np.array([int(i) in seen for i in ids]))
    reactions = behaviour.react(cfg, campaign.id, campaign.nature, at, audience)
    s.execute(insert(SandboxRecipient), [{"campaign_id": campaign.id, "member_id": int(i), "delivered_at": at,
                                          "content_key": campaign.content_key} for i in ids])
    for offset in range(0, len(reactions.activity), 5000):
        s.execute(insert(SandboxActivity), reactions.activity[offset:offset + 5000])
    for state, member_ids in reactions.new_state.items():
        _set(s, member_ids, state=state)
    for status, changes in reactions.new_status.items():
        for member_id, moment in changes:
            s.execute(update(SandboxMember).where(SandboxMember.id == member_id)
                      .values(status=status, last_changed=moment))
    return len(ids)


def _set(s: Session, member_ids: list[int], **values) -> None:
    for offset in range(0, len(member_ids), 5000):
        s.execute(update(SandboxMember).where(SandboxMember.id.in_(member_ids[offset:offset + 5000])).values(**values))


def _recent_deliveries(s: Session, list_id: str, at: datetime) -> dict[int, int]:
    """Deliveries per member in the FATIGUE_DAYS before `at` (the fatigue of frequent mail)."""
    return dict(s.execute(select(SandboxRecipient.member_id, func.count()).join(
        SandboxCampaign, SandboxCampaign.id == SandboxRecipient.campaign_id)
        .where(SandboxCampaign.list_id == list_id, SandboxRecipient.delivered_at > at - timedelta(days=FATIGUE_DAYS),
               SandboxRecipient.delivered_at < at)
        .group_by(SandboxRecipient.member_id)).all())


def _seen_content(s: Session, content_key: str) -> set[int]:
    return set(s.scalars(select(SandboxRecipient.member_id).where(SandboxRecipient.content_key == content_key)))


def _drift(s: Session, list_id: str, start: datetime, end: datetime, cfg: SandboxConfig) -> None:
    if cfg.wake_per_week == 0 and cfg.fade_per_week == 0:
        return  # a model without drift
    rows = s.execute(select(SandboxMember.id, SandboxMember.state).where(
        SandboxMember.list_id == list_id, SandboxMember.status == "subscribed").order_by(SandboxMember.id)).all()
    if not rows:
        return
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    recent = _recent_deliveries(s, list_id, end)
    moves = behaviour.drift(cfg, list_id, start, end, ids, np.array([r[1] for r in rows]),
                            np.array([recent.get(int(i), 0) for i in ids], dtype=np.int64))
    for state, member_ids in moves.items():
        _set(s, member_ids, state=state)
