"""Exposures: a policy records every subscriber it acted on (treatment) and every one it held out
(control), with the moment, the action's key, and the experiment's settings. Both groups are
recorded the same way and in the same transaction as the action itself, so a crash never leaves
one group without the other; the unique key (audience, policy, key, subscriber) makes a re-run a no-op.
The cohort the exposures fall in is written beside them (experiment_cohorts: the verdicts' list).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Date, Float, Integer, Select, exists, false, literal, select, true
from sqlalchemy.orm import Session

from ..config import Config
from ..models import ExperimentCohort, Exposure, PolicyRecipient, UTCDateTime
from ..sqlutil import upsert, written_rows
from .assignment import held_out, settings

EXPOSURES = Exposure.__table__
COHORTS = ExperimentCohort.__table__


def cohort_of(moment: datetime) -> date:
    """The Monday (UTC) of the moment's week: exposures are grouped by policy and week."""
    day = moment.date()
    return day - timedelta(days=day.weekday())


def exposed_since(policy: str, subscriber_id, since):
    """SQL: the subscriber has an exposure (either group) to the policy after `since`."""
    return exists(select(EXPOSURES.c.id).where(EXPOSURES.c.subscriber_id == subscriber_id,
                                               EXPOSURES.c.policy == policy, EXPOSURES.c.exposed_at > since))


def split(config: Config, policy: str, candidates: Select) -> tuple[Select, Select]:
    """(treated, held out): the candidates (a SELECT with an `id` column) split by the stable hash."""
    wanted = candidates.subquery("candidates")
    return (select(wanted.c.id).where(~held_out(config, policy, wanted.c.id)),
            select(wanted.c.id).where(held_out(config, policy, wanted.c.id)))


def record(session: Session, audience_id: int, config: Config, policy: str, key: str, subscribers: Select,
           *, held: bool, as_of: datetime, variant: int = 0, campaign_id: int | None = None) -> int:
    """Record the exposures of one group (subscriber ids in column `id`); those recorded already are
    skipped. Returns how many were new.

    The skip is ON CONFLICT DO NOTHING on the unique key (audience, policy, key, subscriber), not a NOT
    EXISTS anti-join: the group is often rows written moments ago in the same transaction (an action's
    recipients), which no statistics know of, and PostgreSQL then planned the anti-join for "1 row" as a
    nested loop over every exposure of the policy per recipient (minutes at 90,000 recipients)."""
    share, salt = settings(config, policy)
    wanted = subscribers.subquery("exposed")
    # WHERE true: SQLite needs a WHERE before ON CONFLICT in INSERT ... SELECT (else ON reads as a join's)
    rows = select(literal(audience_id), literal(policy), literal(key), wanted.c.id, true() if held else false(),
                  literal(as_of, UTCDateTime), literal(cohort_of(as_of), Date), literal(salt), literal(share, Float),
                  literal(variant, Integer), literal(campaign_id, Integer)).where(true()).distinct()
    stmt = upsert(session, EXPOSURES).from_select(
        ["audience_id", "policy", "key", "subscriber_id", "held_out", "exposed_at", "cohort", "salt", "share",
         "variant", "campaign_id"], rows).on_conflict_do_nothing(
        index_elements=["audience_id", "policy", "key", "subscriber_id"])
    written = written_rows(session, stmt)
    if written:
        note_cohort(session, audience_id, policy, cohort_of(as_of), variant, salt, share)
    return written


def note_cohort(session: Session, audience_id: int, policy: str, cohort: date, variant: int, salt: str,
                share: float) -> None:
    """The cohort's row in experiment_cohorts, written with its exposures (never for an empty group):
    the verdicts list their cohorts from it. Its share is the largest its exposures were recorded with."""
    stmt = upsert(session, COHORTS).values(audience_id=audience_id, policy=policy, cohort=cohort, variant=variant,
                                           salt=salt, share=share)
    session.execute(stmt.on_conflict_do_update(index_elements=["audience_id", "policy", "cohort", "variant", "salt"],
                                               set_={"share": stmt.excluded.share},
                                               where=stmt.excluded.share > COHORTS.c.share))


def record_action(session: Session, audience_id: int, config: Config, policy: str, action, *,
                  variant: int = 0, campaign_id: int | None = None) -> int:
    """The treatment exposures of a recorded action: its frozen recipients."""
    recipients = select(PolicyRecipient.subscriber_id.label("id")).where(PolicyRecipient.action_id == action.id)
    return record(session, audience_id, config, policy, action.key, recipients, held=False, as_of=action.as_of,
                  variant=variant, campaign_id=campaign_id)


