"""Segments stored: definitions, evaluation into stored membership with a join/leave history, previews.

Evaluation ("refresh") of one segment is four set-based statements over a staging table holding
the rule's result (temporary; on Citus distributed, sqlutil.stage), in one transaction: history
rows for who joined and who left, then the membership itself. Re-evaluating with no change writes
nothing but the segment's "last evaluated".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Integer, MetaData, Table, delete, exists, func, insert, literal, select, true
from sqlalchemy.orm import Session

from ..config import EngagementConfig
from ..engagement.window import as_utc
from ..models import (RetiredTag, Segment, SegmentChange, SegmentMember, SegmentSize, Subscriber, Survey,
                      UTCDateTime, utcnow)
from ..progress import Progress
from ..sqlutil import drop_staging, stage, upsert, written_rows
from .compiler import members_query
from .grammar import Node, RuleError, check_name, parse_rule, referenced_segments

MEMBERS = SegmentMember.__table__
# The rule's result for one evaluation (CREATE TABLE AS: PostgreSQL may run the query in parallel; on
# Citus a distributed table filled on each shard, sqlutil.stage).
STAGING = Table("segment_staging", MetaData(), Column("id", Integer))
PREVIEW_SAMPLE = 10


class SegmentNotFound(LookupError):
    pass


class AudienceResolver:
    """The audience's other segments and surveys, for validation and segment.<name> / survey.<name>."""

    def __init__(self, session: Session, audience_id: int, overrides: dict[str, dict] | None = None) -> None:
        self.session, self.audience_id, self.overrides = session, audience_id, overrides or {}

    def segment_rule(self, name: str) -> dict | None:
        if name in self.overrides:
            return self.overrides[name]
        return self.session.scalar(select(Segment.rule).where(Segment.audience_id == self.audience_id,
                                                              Segment.name == name))

    def survey(self, name: str) -> tuple[int, str] | None:
        row = self.session.execute(select(Survey.id, Survey.kind).where(Survey.audience_id == self.audience_id,
                                                                        Survey.name == name)).first()
        return (row.id, row.kind) if row else None


def parse_for(session: Session, audience_id: int, rule: Any, *, name: str | None = None) -> Node:
    """Validate a rule against the audience (its segments and surveys); RuleError if it is wrong."""
    return parse_rule(rule, AudienceResolver(session, audience_id), name=name)


@dataclass(frozen=True)
class Preview:
    count: int
    sample: list[str]  # the first emails, alphabetically
    as_of: datetime


def preview(session: Session, audience_id: int, rule: Any, settings: EngagementConfig, *,
            as_of: datetime | None = None, sample: int = PREVIEW_SAMPLE) -> Preview:
    """How many subscribers match `rule` now (or at as_of) and the first few; writes nothing."""
    as_of = as_utc(as_of or utcnow())
    query = members_query(parse_for(session, audience_id, rule), audience_id, as_of, settings)
    # Named statement "preview": the rule's result, with each match's email, materialised once (a
    # MATERIALIZED CTE, so the LIMIT cannot tempt PostgreSQL into walking the email index and
    # re-running an event aggregate per row), then the first emails in order, each carrying the count
    # of all matches (a window count). The email is read in the rule's own scan: joining subscribers
    # again to fetch it cost one index probe per match (1.4 s of a 1.8 s preview of 50,000 matches at
    # 1,000,000 subscribers, docs/BENCHMARKS.md issue 14).
    members = query.add_columns(Subscriber.email.label("email")).cte("preview_members").prefix_with("MATERIALIZED")
    rows = session.execute(select(members.c.email, func.count().over())
                           .order_by(members.c.email).limit(sample)).all()
    count, emails = (rows[0][1] if rows else 0), [row[0] for row in rows]
    return Preview(count or 0, list(emails), as_of)


def named(session: Session, model, audience_id: int, name: str, missing: type[LookupError], noun: str):
    """The audience's row of `model` (a segment, a survey) with that name; else `missing`, listing the known names."""
    row = session.scalar(select(model).where(model.audience_id == audience_id, model.name == name))
    if row is None:
        known = ", ".join(session.scalars(select(model.name).where(model.audience_id == audience_id)
                                          .order_by(model.name))) or "none yet"
        raise missing(f"no {noun} named {name!r} (known: {known})")
    return row


def get_segment(session: Session, audience_id: int, name: str) -> Segment:
    return named(session, Segment, audience_id, name, SegmentNotFound, "segment")


def list_segments(session: Session, audience_id: int) -> list[Segment]:
    return list(session.scalars(select(Segment).where(Segment.audience_id == audience_id).order_by(Segment.name)))


def add_segment(session: Session, audience_id: int, name: str, rule: Any, *, sync: bool = False,
                tag: str | None = None, description: str | None = None, tag_prefix: str = "mailseg:") -> Segment:
    """Validate and save a new segment (not evaluated yet: refresh_segment does that)."""
    check_name(name)
    if session.scalar(select(Segment.id).where(Segment.audience_id == audience_id, Segment.name == name)):
        raise RuleError([f"name: a segment named {name!r} exists already (use update)"])
    parse_for(session, audience_id, rule, name=name)
    segment = Segment(audience_id=audience_id, name=name, rule=rule, sync=sync, tag=tag or None,
                      description=description)
    session.add(segment)
    session.flush()
    if sync:  # a tag retired earlier and wanted again is not emptied
        session.execute(delete(RetiredTag).where(RetiredTag.audience_id == audience_id,
                                                 RetiredTag.tag == mirrored_tag(segment, tag_prefix)))
    return segment


def update_segment(session: Session, audience_id: int, name: str, *, rule: Any = None, sync: bool | None = None,
                   tag: str | None = None, description: str | None = None, tag_prefix: str = "mailseg:") -> Segment:
    """Change a segment's rule, sync flag, tag or description; a tag no longer mirrored is retired."""
    segment = get_segment(session, audience_id, name)
    if rule is not None:
        parse_for(session, audience_id, rule, name=name)
        segment.rule = rule
    before = mirrored_tag(segment, tag_prefix) if segment.sync else None
    if sync is not None:
        segment.sync = sync
    if tag is not None:
        segment.tag = tag or None
    if description is not None:
        segment.description = description
    after = mirrored_tag(segment, tag_prefix) if segment.sync else None
    if before is not None and before != after:
        _retire(session, audience_id, before)
    segment.updated_at = utcnow()
    session.flush()
    return segment


def remove_segment(session: Session, audience_id: int, name: str, *, tag_prefix: str = "mailseg:") -> None:
    """Delete a segment and its membership; its tag (if mirrored) is emptied on the platform by the next sync.
    Refused while another segment's rule refers to it."""
    segment = get_segment(session, audience_id, name)
    users = [s.name for s in list_segments(session, audience_id) if name in referenced_segments(s.rule)]
    if users:
        raise RuleError([f"segment {name!r} is used by segment(s) {', '.join(users)}: change them first"])
    if segment.sync:
        _retire(session, audience_id, mirrored_tag(segment, tag_prefix))
    # Explicitly, not by the foreign keys' cascade: a distributed database has none to segments
    # (mailseg.distribute).
    session.execute(delete(SegmentMember).where(SegmentMember.segment_id == segment.id))
    session.execute(delete(SegmentChange).where(SegmentChange.segment_id == segment.id))
    session.execute(delete(SegmentSize).where(SegmentSize.segment_id == segment.id))
    session.delete(segment)
    session.flush()


def mirrored_tag(segment: Segment, tag_prefix: str) -> str:
    """The platform tag of a synced segment: its own tag, else <prefix>seg:<name>."""
    return segment.tag or f"{tag_prefix}seg:{segment.name}"


def _retire(session: Session, audience_id: int, tag: str) -> None:
    if session.get(RetiredTag, (audience_id, tag)) is None:
        session.add(RetiredTag(audience_id=audience_id, tag=tag))


@dataclass(frozen=True)
class RefreshResult:
    name: str
    members: int
    joined: int
    left: int


def refresh_segment(session: Session, segment: Segment, settings: EngagementConfig, *, as_of: datetime) -> RefreshResult:
    """Evaluate the segment as of `as_of` and store its membership; joins and leaves go to the history.
    The caller commits."""
    as_of = as_utc(as_of)
    node = parse_for(session, segment.audience_id, segment.rule, name=segment.name)
    _drop_staging(session)
    stage(session, STAGING.name, members_query(node, segment.audience_id, as_of, settings), key="id")
    joined, left = _write_changes(session, segment, as_of)
    _apply_membership(session, segment.id, as_of, joined=joined, left=left)
    _drop_staging(session)
    members = session.scalar(select(func.count()).select_from(MEMBERS).where(MEMBERS.c.segment_id == segment.id))
    if joined or left or segment.last_evaluated_at is None:
        session.add(SegmentSize(segment_id=segment.id, as_of=as_of, members=members, joined=joined, left=left))
    segment.member_count, segment.last_evaluated_at, segment.last_as_of = members, utcnow(), as_of
    session.flush()
    return RefreshResult(segment.name, members, joined, left)


def refresh_all(session: Session, audience_id: int, settings: EngagementConfig, *, as_of: datetime,
                names: list[str] | None = None, progress: Progress | None = None) -> list[RefreshResult]:
    """Refresh every segment of the audience (or the named ones), committing after each."""
    segments = [get_segment(session, audience_id, n) for n in names] if names else list_segments(session, audience_id)
    results = []
    for segment in segments:
        results.append(refresh_segment(session, segment, settings, as_of=as_of))
        session.commit()
        if progress is not None:
            progress.advance(1)
    return results


def _drop_staging(session: Session) -> None:
    drop_staging(session, STAGING.name)


def _anti_joins(segment_id: int):
    """(not yet a member, no longer staged): the staged ids that are not members, the members that are
    not staged, as NOT EXISTS on the subscriber key (on Citus the staging table is co-located with the
    members, so each shard answers for its own subscribers)."""
    member = exists().where(MEMBERS.c.segment_id == segment_id, MEMBERS.c.subscriber_id == STAGING.c.id)
    staged = exists().where(STAGING.c.id == MEMBERS.c.subscriber_id)
    return ~member, ~staged


def _write_changes(session: Session, segment: Segment, as_of: datetime) -> tuple[int, int]:
    """Segment history: one row per subscriber who joins (in the result, not a member) or leaves."""
    not_member, not_staged = _anti_joins(segment.id)
    columns = ["audience_id", "segment_id", "subscriber_id", "joined", "changed_at"]
    at = literal(as_of, UTCDateTime)
    joins = select(literal(segment.audience_id), literal(segment.id), STAGING.c.id, literal(True), at).where(not_member)
    leaves = (select(literal(segment.audience_id), literal(segment.id), MEMBERS.c.subscriber_id, literal(False), at)
              .where(MEMBERS.c.segment_id == segment.id, not_staged))
    table = SegmentChange.__table__
    counts = []
    for rows in (joins, leaves):
        counts.append(written_rows(session, insert(table).from_select(columns, rows)))
    return counts[0], counts[1]


def _apply_membership(session: Session, segment_id: int, as_of: datetime, *, joined: int, left: int) -> None:
    """Members in, members out, each only when needed.

    Named statement "members in": INSERT ... SELECT every staged id ON CONFLICT DO NOTHING (the primary
    key skips those already members). It must not read segment_members itself: written as an anti-join
    (NOT EXISTS over segment_members), PostgreSQL planned it, on a segment_members never analysed and
    empty at plan time, as a nested loop re-scanning segment_members for every staged row, including
    the rows the statement had just inserted: quadratic, 39.9 s of a 52.8 s first evaluation at
    1,000,000 subscribers (docs/BENCHMARKS.md, issue 14). "members out": an anti-join on the staging
    table (NOT EXISTS), which this DELETE does not write."""
    if joined:
        # WHERE true: SQLite needs it to parse INSERT ... SELECT ... ON CONFLICT
        rows = select(literal(segment_id), STAGING.c.id, literal(as_of, UTCDateTime)).where(true())
        stmt = upsert(session, MEMBERS).from_select(["segment_id", "subscriber_id", "joined_at"], rows)
        session.execute(stmt.on_conflict_do_nothing(index_elements=["segment_id", "subscriber_id"]))
    if left:
        _, not_staged = _anti_joins(segment_id)
        session.execute(delete(MEMBERS).where(MEMBERS.c.segment_id == segment_id, not_staged))
