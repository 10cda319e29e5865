"""SandboxPlatform: the EmailPlatform protocol (mailseg/providers/base.py) over the sandbox tables.

Every call is its own short transaction on its own connection, as calls to a remote platform are:
what a call did stays done even if the caller's transaction rolls back or its process dies (the
exactly-once machinery of the policies relies on that). The platform's "now" is its list's clock
(SandboxList.clock; real time when unset). Sending delivers at once; a scheduled campaign is
delivered when the clock reaches its time (world.deliver_due, run by the simulation's delivery
step and before every listing of sent campaigns). Activity is revealed as the clock passes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterator

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from ..db import Database
from ..models import (SandboxActivity, SandboxCampaign, SandboxList, SandboxMember, SandboxRecipient, SandboxSegment,
                      SandboxSegmentMember, normalise_email, utcnow)
from ..providers.base import (Activity, CallCounts, CampaignInfo, Member, ProviderError, Recipient, SegmentRef,
                              SegmentUpdate)
from . import world

MAX_BATCH = 500
PAGE = 1000


class SandboxPlatform:
    max_batch = MAX_BATCH

    def __init__(self, database: Database, behaviour) -> None:
        self.db = database
        self.behaviour = behaviour  # the [sandbox] config section
        self.counts = CallCounts()

    def __repr__(self) -> str:
        return "SandboxPlatform()"

    def _session(self, write: bool = False):
        self.counts.calls += 1
        self.counts.writes += write
        return self.db.transaction()

    # --- members and segments ---------------------------------------------------------------

    def list_members(self, list_id: str, *, since_last_changed: datetime | None = None) -> Iterator[Member]:
        last_id = 0
        while True:
            with self._session() as s:
                _list(s, list_id)
                stmt = select(SandboxMember.id, SandboxMember.email, SandboxMember.status, SandboxMember.merge_fields,
                              SandboxMember.last_changed, SandboxMember.subscribed_at).where(
                    SandboxMember.list_id == list_id, SandboxMember.id > last_id)
                if since_last_changed is not None:
                    stmt = stmt.where(SandboxMember.last_changed > since_last_changed)
                rows = s.execute(stmt.order_by(SandboxMember.id).limit(PAGE)).all()
                tags = _tags(s, [r.id for r in rows])
            for row in rows:
                yield Member(row.email, row.status, dict(row.merge_fields or {}), tags.get(row.id, []),
                             row.last_changed, row.subscribed_at)
            if len(rows) < PAGE:
                return
            last_id = rows[-1].id

    def ensure_static_segment(self, list_id: str, name: str) -> SegmentRef:
        with self._session(write=True) as s:
            _list(s, list_id)
            segment = s.scalar(select(SandboxSegment).where(SandboxSegment.list_id == list_id,
                                                            SandboxSegment.name == name))
            if segment is None:
                segment = SandboxSegment(list_id=list_id, name=name, created_at=world.now(s, list_id))
                s.add(segment)
                s.flush()
            count = s.scalar(select(func.count()).select_from(SandboxSegmentMember)
                             .where(SandboxSegmentMember.segment_id == segment.id)) or 0
            return SegmentRef(str(segment.id), segment.name, count)

    def segment_members(self, list_id: str, segment_id: str) -> Iterator[str]:
        with self._session() as s:
            _segment(s, list_id, segment_id)
            emails = s.scalars(select(SandboxMember.email).join(
                SandboxSegmentMember, SandboxSegmentMember.member_id == SandboxMember.id)
                .where(SandboxSegmentMember.segment_id == int(segment_id)).order_by(SandboxMember.id)).all()
        yield from emails

    def segment_exists(self, list_id: str, segment_id: str) -> bool:
        with self._session() as s:
            return (segment_id.isdigit() and s.scalar(select(SandboxSegment.id).where(
                SandboxSegment.id == int(segment_id), SandboxSegment.list_id == list_id)) is not None)

    def update_segment(self, list_id: str, segment_id: str, *, add: list[str], remove: list[str]) -> SegmentUpdate:
        if len(add) > MAX_BATCH or len(remove) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} addresses to add and to remove per call")
        with self._session(write=True) as s:
            seg = _segment(s, list_id, segment_id)
            wanted = {normalise_email(e): e for e in add + remove}
            ids = dict(s.execute(select(SandboxMember.email, SandboxMember.id).where(
                SandboxMember.list_id == list_id, SandboxMember.email.in_(list(wanted)),
                SandboxMember.status != "archived")).all())
            errors = {e: "not a member of this list" for key, e in wanted.items() if key not in ids}
            held = set(s.scalars(select(SandboxSegmentMember.member_id).where(
                SandboxSegmentMember.segment_id == seg.id, SandboxSegmentMember.member_id.in_(list(ids.values())))))
            to_add = {ids[k] for k in map(normalise_email, add) if k in ids} - held
            to_remove = {ids[k] for k in map(normalise_email, remove) if k in ids} & held
            if to_add:
                s.execute(insert(SandboxSegmentMember), [{"segment_id": seg.id, "member_id": m} for m in sorted(to_add)])
            if to_remove:
                s.execute(delete(SandboxSegmentMember).where(SandboxSegmentMember.segment_id == seg.id,
                                                             SandboxSegmentMember.member_id.in_(to_remove)))
            return SegmentUpdate(len(to_add), len(to_remove), errors)

    def update_member_status(self, list_id: str, email: str, status: str) -> str | None:
        with self._session(write=True) as s:
            _list(s, list_id)
            done = s.execute(update(SandboxMember).where(
                SandboxMember.list_id == list_id, SandboxMember.email == normalise_email(email),
                SandboxMember.status != "archived").values(status=status, last_changed=world.now(s, list_id)))
            return None if done.rowcount else f"404 {email} is not a member of list {list_id}"

    def add_pending_member(self, list_id: str, email: str, merge_fields: dict[str, Any]) -> str | None:
        """As Mailchimp's add-or-update with status_if_new "pending": a new member is pending (a simulated
        reader of the default state), an existing one keeps its status and gets the merge fields."""
        with self._session(write=True) as s:
            _list(s, list_id)
            address = normalise_email(email)
            now = world.now(s, list_id)
            member = s.scalar(select(SandboxMember).where(SandboxMember.list_id == list_id,
                                                          SandboxMember.email == address))
            if member is None:
                s.add(SandboxMember(list_id=list_id, email=address, status="pending", merge_fields=dict(merge_fields),
                                    subscribed_at=now, last_changed=now))
            else:
                member.merge_fields = {**(member.merge_fields or {}), **merge_fields}
                member.last_changed = now
            return None

    def archive_member(self, list_id: str, email: str) -> str | None:
        with self._session(write=True) as s:
            _list(s, list_id)
            s.execute(update(SandboxMember).where(SandboxMember.list_id == list_id,
                                                  SandboxMember.email == normalise_email(email))
                      .values(status="archived", last_changed=world.now(s, list_id)))
            return None

    # --- campaigns ---------------------------------------------------------------------------

    def create_campaign(self, list_id: str, segment_id: str | None, *, title: str, subject: str,
                        from_name: str, reply_to: str) -> str:
        with self._session(write=True) as s:
            if segment_id is not None:
                _segment(s, list_id, segment_id)
            else:
                _list(s, list_id)
            row = SandboxCampaign(id=world.new_campaign_id(s, list_id), list_id=list_id, segment_id=int(segment_id) if segment_id else None,
                                  title=title, subject=subject, from_name=from_name, reply_to=reply_to,
                                  created_at=world.now(s, list_id))
            s.add(row)
            return row.id

    def campaign(self, campaign_id: str) -> CampaignInfo:
        with self._session() as s:
            return _info(_campaign(s, campaign_id))

    def find_campaign(self, list_id: str, title_prefix: str) -> CampaignInfo | None:
        with self._session() as s:
            rows = s.scalars(select(SandboxCampaign).where(SandboxCampaign.list_id == list_id)
                             .order_by(SandboxCampaign.created_at.desc())).all()
            return next((_info(r) for r in rows if r.title.startswith(title_prefix)), None)

    def copy_content(self, source_id: str, target_id: str) -> None:
        with self._session(write=True) as s:
            source, target = _campaign(s, source_id), _campaign(s, target_id)
            target.html, target.nature, target.content_key = source.html, source.nature, source.content_key

    def replicate_campaign(self, campaign_id: str) -> str:
        with self._session(write=True) as s:
            source = _campaign(s, campaign_id)
            copy = SandboxCampaign(id=world.new_campaign_id(s, source.list_id), list_id=source.list_id, segment_id=source.segment_id,
                                   title=f"{source.title} (copy 01)", subject=source.subject, from_name=source.from_name,
                                   reply_to=source.reply_to, html=source.html, nature=source.nature,
                                   content_key=source.content_key, created_at=world.now(s, source.list_id))
            s.add(copy)
            return copy.id

    def update_campaign(self, campaign_id: str, *, list_id: str, segment_id: str | None, title: str,
                        subject: str) -> None:
        """Point a draft at the list (or one of its segments) and set its title and subject (the call
        issue 12's replica-based policies make); other settings stay."""
        with self._session(write=True) as s:
            row = _campaign(s, campaign_id)
            if row.status != "save":
                raise ProviderError(f"campaign {campaign_id} cannot be updated: its status is {row.status}", 400)
            if segment_id is not None:
                _segment(s, list_id, segment_id)
            else:
                _list(s, list_id)
            row.list_id, row.segment_id = list_id, int(segment_id) if segment_id is not None else None
            row.title, row.subject = title, subject

    def schedule_campaign(self, campaign_id: str, at: datetime) -> None:
        with self._session(write=True) as s:
            row = _campaign(s, campaign_id)
            if row.status != "save":
                raise ProviderError(f"campaign {campaign_id} cannot be scheduled: its status is {row.status}", 400)
            row.status, row.send_time = "schedule", at

    def send_campaign(self, campaign_id: str) -> None:
        with self._session(write=True) as s:
            row = _campaign(s, campaign_id)
            if row.status not in ("save", "schedule"):
                raise ProviderError(f"campaign {campaign_id} cannot be sent: its status is {row.status}", 400)
            world.deliver(s, row, world.now(s, row.list_id), self.behaviour)

    def sent_campaigns(self, list_id: str) -> Iterator[CampaignInfo]:
        with self._session(write=True) as s:
            world.deliver_due(s, list_id, self.behaviour)
            rows = s.scalars(select(SandboxCampaign).where(SandboxCampaign.list_id == list_id,
                                                           SandboxCampaign.status == "sent")
                             .order_by(SandboxCampaign.send_time, SandboxCampaign.id)).all()
            infos = [_info(r) for r in rows]
        yield from infos

    def campaign_recipients(self, campaign_id: str) -> Iterator[Recipient]:
        with self._session() as s:
            _campaign(s, campaign_id)
            emails = s.scalars(select(SandboxMember.email).join(
                SandboxRecipient, SandboxRecipient.member_id == SandboxMember.id)
                .where(SandboxRecipient.campaign_id == campaign_id).order_by(SandboxMember.id)).all()
        for email in emails:
            yield Recipient(email, "sent")

    def campaign_activity(self, campaign_id: str, *, since: datetime | None = None) -> Iterator[Activity]:
        """Activity up to the platform's clock (what has happened by now), after `since` when given."""
        with self._session() as s:
            row = _campaign(s, campaign_id)
            stmt = (select(SandboxMember.email, SandboxActivity.action, SandboxActivity.occurred_at,
                           SandboxActivity.url, SandboxActivity.ip, SandboxActivity.amount)
                    .join(SandboxMember, SandboxMember.id == SandboxActivity.member_id)
                    .where(SandboxActivity.campaign_id == campaign_id,
                           SandboxActivity.occurred_at <= world.now(s, row.list_id)))
            if since is not None:
                stmt = stmt.where(SandboxActivity.occurred_at > since)
            rows = s.execute(stmt.order_by(SandboxActivity.occurred_at, SandboxActivity.id)).all()
        for email, action, occurred_at, url, ip, amount in rows:
            yield Activity(email, action, occurred_at, url, ip, "hard" if action == "bounce" else None, amount)


def _list(s: Session, list_id: str) -> SandboxList:
    row = s.get(SandboxList, list_id)
    if row is None:
        raise ProviderError(f"404 the sandbox has no list {list_id!r}", 404)
    return row


def _segment(s: Session, list_id: str, segment_id: str) -> SandboxSegment:
    row = s.get(SandboxSegment, int(segment_id)) if str(segment_id).isdigit() else None
    if row is None or row.list_id != list_id:
        raise ProviderError(f"404 the sandbox list {list_id!r} has no segment {segment_id!r}", 404)
    return row


def _campaign(s: Session, campaign_id: str) -> SandboxCampaign:
    row = s.get(SandboxCampaign, campaign_id)
    if row is None:
        raise ProviderError(f"404 the sandbox has no campaign {campaign_id!r}", 404)
    return row


def _tags(s: Session, member_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    if not member_ids:
        return out
    for member_id, name in s.execute(select(SandboxSegmentMember.member_id, SandboxSegment.name).join(
            SandboxSegment, SandboxSegment.id == SandboxSegmentMember.segment_id)
            .where(SandboxSegmentMember.member_id.in_(member_ids))):
        out.setdefault(member_id, []).append(name)
    return out


def _info(row: SandboxCampaign) -> CampaignInfo:
    return CampaignInfo(row.id, row.status, row.send_time, row.title, row.subject,
                        row.from_name, row.reply_to)


def make_factory(database: Database, behaviour):
    return lambda: SandboxPlatform(database, behaviour)


__all__ = ["SandboxPlatform", "make_factory", "utcnow"]
