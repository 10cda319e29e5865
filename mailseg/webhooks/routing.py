"""Which audience a webhook's event belongs to.

Mailchimp posts name their list (data[list_id]): the audience with that provider_list_id, else the
only audience. Mandrill (transactional) events name only an address: each event goes to every
audience that has the address as a subscriber — a bounce or an open is a fact about the person
behind the address, so each audience that mails them should know it; an address no audience has is
counted as unknown (or, with a single audience, handed to it so store_events counts it there).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..ingest.events import EventIn
from ..models import Audience, Subscriber, normalise_email
from ..sqlutil import member_of


def audience_for_list(session: Session, list_id: str | None) -> int | None:
    if list_id:
        found = session.scalar(select(Audience.id).where(Audience.provider_list_id == list_id).limit(1))
        if found is not None:
            return found
    return only_audience(session)


def only_audience(session: Session) -> int | None:
    ids = list(session.scalars(select(Audience.id).order_by(Audience.id).limit(2)))
    return ids[0] if len(ids) == 1 else None


def route_by_email(session: Session, events: Sequence[EventIn]) -> tuple[dict[int, list[EventIn]], list[EventIn]]:
    """({audience id: its events}, events no audience can take). Routed events carry their
    subscriber's id in that audience, so store_events does not look the address up again."""
    emails = sorted({normalise_email(e.email) for e in events if e.email})
    owners: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for matches in member_of(session, Subscriber.email, emails):
        stmt = select(Subscriber.email, Subscriber.audience_id, Subscriber.id).where(matches)
        for email, audience_id, subscriber_id in session.execute(stmt):
            owners[email].append((audience_id, subscriber_id))
    fallback = only_audience(session) if len(owners) < len(emails) else None
    routed: dict[int, list[EventIn]] = defaultdict(list)
    unrouted: list[EventIn] = []
    for event in events:
        targets = owners.get(normalise_email(event.email or ""))
        if targets:
            for audience_id, subscriber_id in targets:
                routed[audience_id].append(replace(event, subscriber_id=subscriber_id) if len(targets) > 1
                                           else _with_subscriber(event, subscriber_id))
        elif fallback:
            routed[fallback].append(event)  # store_events counts it as an unknown address there
        else:
            unrouted.append(event)
    return routed, unrouted


def _with_subscriber(event: EventIn, subscriber_id: int) -> EventIn:
    """The event itself (it goes to one audience only), now naming its subscriber."""
    event.subscriber_id = subscriber_id
    return event
