"""Survey reports: answer counts per quarter; for 0-10 surveys NPS and CSI per quarter and split by
engagement class and RFM segment.

- NPS = % of answers 9-10 minus % of answers 0-6 (of all answers), from -100 to 100.
- CSI (seed 003) = number of answers 8-10 / number of answers 1-3 (0 is in neither); undefined
  (None) without any 1-3 answer.
A subscriber counts once per quarter: their latest answer in it ("who answered what this quarter").
The splits use each subscriber's current answer and current class / RFM segment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Integer, cast, extract, func, select
from sqlalchemy.orm import Session

from ..models import Subscriber, SubscriberClass, SubscriberValue, Survey, SurveyAnswer, SurveyResponse


@dataclass(frozen=True)
class Scores:
    answers: int
    nps: float | None
    csi: float | None
    promoters: int  # 9-10
    detractors: int  # 0-6
    satisfied: int  # 8-10
    dissatisfied: int  # 1-3


def scores(counts: dict[str, int]) -> Scores:
    """NPS and CSI from answer -> count of a 0-10 survey."""
    by_value = {int(answer): n for answer, n in counts.items() if answer.isdigit()}
    total = sum(by_value.values())
    promoters = sum(n for v, n in by_value.items() if v >= 9)
    detractors = sum(n for v, n in by_value.items() if v <= 6)
    satisfied = sum(n for v, n in by_value.items() if v >= 8)
    dissatisfied = sum(n for v, n in by_value.items() if 1 <= v <= 3)
    nps = round(100.0 * (promoters - detractors) / total, 1) if total else None
    csi = round(satisfied / dissatisfied, 2) if dissatisfied else None
    return Scores(total, nps, csi, promoters, detractors, satisfied, dissatisfied)


@dataclass
class SurveyReport:
    survey: str
    kind: str
    answers: list[str]
    # "2026-Q2" -> answer -> count (latest answer per subscriber in the quarter)
    quarters: dict[str, dict[str, int]] = field(default_factory=dict)
    quarter_scores: dict[str, Scores] = field(default_factory=dict)
    current: dict[str, int] = field(default_factory=dict)
    current_scores: Scores | None = None
    by_class: dict[str, Scores | dict[str, int]] = field(default_factory=dict)
    by_rfm_segment: dict[str, Scores | dict[str, int]] = field(default_factory=dict)


def survey_report(session: Session, survey: Survey) -> SurveyReport:
    report = SurveyReport(survey.name, survey.kind, list(survey.answers))
    for year, quarter, answer, n in _quarter_counts(session, survey.id):
        report.quarters.setdefault(f"{int(year)}-Q{int(quarter)}", {})[answer] = n
    report.current = _current_counts(session, survey.id, None)
    summarise = scores if survey.kind == "scale" else (lambda counts: counts)
    if survey.kind == "scale":
        report.quarter_scores = {q: scores(c) for q, c in report.quarters.items()}
        report.current_scores = scores(report.current)
    for split, column in (("by_class", SubscriberClass.engagement_class), ("by_rfm_segment", SubscriberValue.rfm_segment)):
        groups: dict[str, dict[str, int]] = {}
        for key, answer, n in _current_counts(session, survey.id, column):
            groups.setdefault(key or "none", {})[answer] = n
        setattr(report, split, {key: summarise(counts) for key, counts in sorted(groups.items())})
    return report


def _quarter_counts(session: Session, survey_id: int):
    """Named statement "answers per quarter": each subscriber's latest answer per quarter, counted."""
    year = extract("year", SurveyAnswer.answered_at)
    quarter = (cast(extract("month", SurveyAnswer.answered_at), Integer) - 1) // 3 + 1
    ranked = (select(cast(year, Integer).label("year"), cast(quarter, Integer).label("quarter"), SurveyAnswer.answer,
                     func.row_number().over(partition_by=[SurveyAnswer.subscriber_id, year, quarter],
                                            order_by=[SurveyAnswer.answered_at.desc(), SurveyAnswer.id.desc()]).label("rn"))
              .where(SurveyAnswer.survey_id == survey_id).subquery("ranked"))
    return session.execute(select(ranked.c.year, ranked.c.quarter, ranked.c.answer, func.count())
                           .where(ranked.c.rn == 1)
                           .group_by(ranked.c.year, ranked.c.quarter, ranked.c.answer)
                           .order_by(ranked.c.year, ranked.c.quarter)).all()


def _current_counts(session: Session, survey_id: int, split):
    """Current answers counted, optionally per split column (class or RFM segment)."""
    if split is None:
        return dict(session.execute(select(SurveyResponse.answer, func.count())
                                    .where(SurveyResponse.survey_id == survey_id)
                                    .group_by(SurveyResponse.answer)).all())
    stmt = (select(split, SurveyResponse.answer, func.count())
            .select_from(SurveyResponse).join(Subscriber, Subscriber.id == SurveyResponse.subscriber_id)
            .outerjoin(SubscriberValue, SubscriberValue.subscriber_id == SurveyResponse.subscriber_id)
            .outerjoin(SubscriberClass, SubscriberClass.subscriber_id == SurveyResponse.subscriber_id)
            .where(SurveyResponse.survey_id == survey_id).group_by(split, SurveyResponse.answer))
    return session.execute(stmt).all()
