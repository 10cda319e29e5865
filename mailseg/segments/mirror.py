"""Segments (and survey answers) marked sync, mirrored as platform tags through the incremental sync engine; tags retired
(segment removed, unsynced or renamed) are emptied by the next sync and then forgotten."""

from __future__ import annotations

from sqlalchemy import delete, false, select
from sqlalchemy.orm import Session

from ..models import (SUPPRESSED_STATUSES, RetiredTag, Segment, SegmentMember, Subscriber, Survey,
                      SurveyResponse, SyncSegment)
from ..sync.engine import SegmentSpec
from ..surveys.store import answer_tag
from .store import mirrored_tag


def segment_specs(session: Session, audience_id: int, tag_prefix: str) -> list[SegmentSpec]:
    """One spec per synced segment (its stored members still mailable), one per answer of a synced survey
    (survey:<name>:<answer>), one empty spec per retired tag."""
    specs = []
    for segment in session.scalars(select(Segment).where(Segment.audience_id == audience_id, Segment.sync.is_(True))
                                   .order_by(Segment.name)):
        desired = (select(Subscriber.id).join(SegmentMember, SegmentMember.subscriber_id == Subscriber.id)
                   .where(SegmentMember.segment_id == segment.id, Subscriber.status.not_in(SUPPRESSED_STATUSES)))
        specs.append(SegmentSpec(mirrored_tag(segment, tag_prefix), desired))
    for survey in session.scalars(select(Survey).where(Survey.audience_id == audience_id, Survey.sync.is_(True))
                                  .order_by(Survey.name)):
        for answer in survey.answers:
            desired = (select(Subscriber.id).join(SurveyResponse, SurveyResponse.subscriber_id == Subscriber.id)
                       .where(SurveyResponse.survey_id == survey.id, SurveyResponse.answer == answer,
                              Subscriber.status.not_in(SUPPRESSED_STATUSES)))
            specs.append(SegmentSpec(answer_tag(survey.name, answer), desired))
    recorded = set(session.scalars(select(SyncSegment.name).where(SyncSegment.audience_id == audience_id)))
    for tag in retired_tags(session, audience_id):
        if tag in recorded:  # a tag never mirrored needs nothing on the platform
            specs.append(SegmentSpec(tag, select(Subscriber.id).where(false())))
    return specs


def retired_tags(session: Session, audience_id: int) -> list[str]:
    return list(session.scalars(select(RetiredTag.tag).where(RetiredTag.audience_id == audience_id)
                                .order_by(RetiredTag.tag)))


def forget_retired(session: Session, audience_id: int, tags: list[str]) -> None:
    """After a sync that emptied them: the retired tags need nothing more."""
    if tags:
        session.execute(delete(RetiredTag).where(RetiredTag.audience_id == audience_id, RetiredTag.tag.in_(tags)))
