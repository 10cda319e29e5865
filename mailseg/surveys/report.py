"""Survey reports: answer counts per quarter; for 0-10 surveys NPS and CSI per quarter, overall and split
by engagement class and RFM segment.

- NPS = % of answers 9-10 minus % of answers 0-6 (of all answers), from -100 to 100.
- CSI (seed 003) = number of answers 8-10 / number of answers 1-3 (0 is in neither); undefined
  (None) without any 1-3 answer.
A subscriber counts once per quarter: their latest answer in it ("who answered what this quarter").
The splits are per quarter too, and each answer is counted under the class and RFM segment the
subscriber had WHEN they gave it, read from the class history (class_changes) and the value history
(value_changes, family rfm):
- class: the to_class of the subscriber's latest class change at or before the answer; "none" when
  they had not been classified yet;
- RFM segment: the to_value of their latest rfm change at or before the answer; without one they were
  a "prospect" (the value history records a subscriber only once they are a customer) if a value run
  of the audience had run by then, else "none" (not valued yet).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import Integer, case, cast, extract, func, literal, null, select
from sqlalchemy.orm import Session

from ..models import PROSPECT, ClassChange, JobRun, Survey, SurveyAnswer, SurveyResponse, UTCDateTime, ValueChange

NO_GROUP = "none"
# Value runs whose history counts (value/run.py's job name; a failed run wrote nothing).
VALUE_JOB, VALUE_RUN_DONE = "value", ("succeeded", "partial")


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
    # "2026-Q2" -> answer -> count (latest answer per subscriber in the quarter), oldest quarter first
    quarters: dict[str, dict[str, int]] = field(default_factory=dict)
    quarter_scores: dict[str, Scores] = field(default_factory=dict)
    current: dict[str, int] = field(default_factory=dict)
    current_scores: Scores | None = None
    # quarter -> class (or RFM segment) the subscriber had when answering -> Scores (0-10 surveys)
    # or answer -> count (choice surveys); the same answers as `quarters`, split.
    by_class: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_rfm_segment: dict[str, dict[str, Any]] = field(default_factory=dict)

    def split_groups(self, split: str, quarters: list[str] | None = None) -> list[str]:
        """The groups of a split ('by_class' or 'by_rfm_segment') in these quarters (default all), sorted."""
        per_quarter = getattr(self, split)
        return sorted({group for q in (per_quarter if quarters is None else quarters) for group in per_quarter.get(q, {})})


def survey_report(session: Session, survey: Survey) -> SurveyReport:
    report = SurveyReport(survey.name, survey.kind, list(survey.answers))
    summarise: Callable[[dict[str, int]], Any] = scores if survey.kind == "scale" else dict
    by_class: dict[str, dict[str, dict[str, int]]] = {}
    by_segment: dict[str, dict[str, dict[str, int]]] = {}
    for row in _quarter_rows(session, survey):
        quarter = f"{int(row.year)}-Q{int(row.quarter)}"
        counts = report.quarters.setdefault(quarter, {})
        counts[row.answer] = counts.get(row.answer, 0) + row.n
        for target, group in ((by_class, row.klass), (by_segment, row.segment)):
            group_counts = target.setdefault(quarter, {}).setdefault(group or NO_GROUP, {})
            group_counts[row.answer] = group_counts.get(row.answer, 0) + row.n
    report.by_class = {q: {g: summarise(c) for g, c in sorted(groups.items())} for q, groups in by_class.items()}
    report.by_rfm_segment = {q: {g: summarise(c) for g, c in sorted(groups.items())} for q, groups in by_segment.items()}
    report.current = dict(session.execute(select(SurveyResponse.answer, func.count())
                                          .where(SurveyResponse.survey_id == survey.id)
                                          .group_by(SurveyResponse.answer)).all())
    if survey.kind == "scale":
        report.quarter_scores = {q: scores(c) for q, c in report.quarters.items()}
        report.current_scores = scores(report.current)
    return report


def _first_value_run(session: Session, audience_id: int) -> datetime | None:
    return session.scalar(select(func.min(JobRun.as_of)).where(
        JobRun.job == VALUE_JOB, JobRun.audience_id == audience_id, JobRun.status.in_(VALUE_RUN_DONE)))


def _quarter_rows(session: Session, survey: Survey):
    """Named statement "answers per quarter, with the class and RFM segment then": each subscriber's
    latest answer per quarter (a row_number window), and for it two correlated look-ups, each one probe
    of an index on (subscriber_id, changed_at): the latest class change and the latest rfm value change
    at or before the answer. Counted per (quarter, class, segment, answer): a small result whatever the
    number of answers."""
    a = SurveyAnswer
    year = cast(extract("year", a.answered_at), Integer)
    quarter = (cast(extract("month", a.answered_at), Integer) - 1) // 3 + 1
    ranked = (select(a.subscriber_id, a.answer, a.answered_at, year.label("year"), quarter.label("quarter"),
                     func.row_number().over(partition_by=[a.subscriber_id, year, quarter],
                                            order_by=[a.answered_at.desc(), a.id.desc()]).label("rn"))
              .where(a.survey_id == survey.id).subquery("ranked"))
    class_then = (select(ClassChange.to_class)
                  .where(ClassChange.subscriber_id == ranked.c.subscriber_id,
                         ClassChange.changed_at <= ranked.c.answered_at)
                  .order_by(ClassChange.changed_at.desc(), ClassChange.id.desc()).limit(1).scalar_subquery())
    segment_then = (select(ValueChange.to_value)
                    .where(ValueChange.subscriber_id == ranked.c.subscriber_id, ValueChange.family == "rfm",
                           ValueChange.changed_at <= ranked.c.answered_at)
                    .order_by(ValueChange.changed_at.desc(), ValueChange.id.desc()).limit(1).scalar_subquery())
    first_run = _first_value_run(session, survey.audience_id)
    # without rfm history: a prospect once the audience had been valued, else not valued yet (NULL)
    valued = (null() if first_run is None else
              case((ranked.c.answered_at >= literal(first_run, UTCDateTime), literal(PROSPECT)), else_=null()))
    then = (select(ranked.c.year, ranked.c.quarter, ranked.c.answer, class_then.label("klass"),
                   func.coalesce(segment_then, valued).label("segment"))
            .where(ranked.c.rn == 1).subquery("then"))
    return session.execute(select(then.c.year, then.c.quarter, then.c.klass, then.c.segment, then.c.answer,
                                  func.count().label("n"))
                           .group_by(then.c.year, then.c.quarter, then.c.klass, then.c.segment, then.c.answer)
                           .order_by(then.c.year, then.c.quarter)).all()
