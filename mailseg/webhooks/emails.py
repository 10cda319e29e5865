"""A subscriber's address change (Mailchimp `upemail`): the same subscriber row, so its events,
class history and everything keyed by its id stay with it."""

from __future__ import annotations


from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..models import ClassChange, Event, Subscriber, utcnow


def change_email(session: Session, audience_id: int, old: str, new: str) -> str:
    """Rename old -> new in place; returns what happened ("changed", "merged", "unchanged", "unknown")."""
    table = Subscriber.__table__
    ids = dict(session.execute(select(table.c.email, table.c.id).where(
        table.c.audience_id == audience_id, table.c.email.in_((old, new)))).all())
    if old == new or old not in ids:
        # Nothing to rename: unknown to us, or a retry of a change already applied.
        return "unchanged" if new in ids else "unknown"
    outcome = "changed"
    if new in ids:
        # Mailchimp refuses to give a member an address another member of the list already has, so a
        # local row for the new address is stale (imported separately, or a member Mailchimp deleted).
        # Mailchimp's member is the one being renamed: it keeps its row, status and profile, and takes
        # over the stale row's events and class history, so nothing observed about the address is lost;
        # then the stale row goes (two rows cannot hold one address).
        stale = ids[new]
        session.execute(update(Event.__table__).where(Event.__table__.c.subscriber_id == stale)
                        .values(subscriber_id=ids[old]))
        session.execute(update(ClassChange.__table__).where(ClassChange.__table__.c.subscriber_id == stale)
                        .values(subscriber_id=ids[old]))
        session.execute(delete(table).where(table.c.id == stale))
        outcome = "merged"
    session.execute(update(table).where(table.c.id == ids[old]).values(email=new, updated_at=utcnow()))
    return outcome
