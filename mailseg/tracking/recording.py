"""Turning a verified pixel fetch or link click into an event, through the one ingest function
(directly, or later from the tracking queue: mailseg.ingest.queue)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ..config import FlaggingConfig
from ..ingest.events import EventIn, StoreResult, store_events
from ..ingest.flagging import HONEYPOT
from .tokens import ClickToken, OpenToken


def open_event(token: OpenToken, *, at: datetime, user_agent: str | None, ip: str | None) -> EventIn:
    return EventIn(type="open", occurred_at=at, source="pixel", subscriber_id=token.subscriber_id,
                   campaign_id=token.campaign_id, user_agent=user_agent, ip=ip)


def click_event(token: ClickToken, *, at: datetime, user_agent: str | None, ip: str | None) -> EventIn:
    return EventIn(type="click", occurred_at=at, source="click", subscriber_id=token.subscriber_id,
                   campaign_id=token.campaign_id, url=token.url, user_agent=user_agent, ip=ip,
                   machine_reason=HONEYPOT if token.honeypot else None)


def record_open(session: Session, token: OpenToken, *, at: datetime, user_agent: str | None,
                ip: str | None, flagging: FlaggingConfig | None = None) -> StoreResult:
    event = open_event(token, at=at, user_agent=user_agent, ip=ip)
    return store_events(session, token.audience_id, [event], flagging=flagging)


def record_click(session: Session, token: ClickToken, *, at: datetime, user_agent: str | None,
                 ip: str | None, flagging: FlaggingConfig | None = None) -> StoreResult:
    event = click_event(token, at=at, user_agent=user_agent, ip=ip)
    return store_events(session, token.audience_id, [event], flagging=flagging)
