"""Turning a verified pixel fetch or link click into an event, through the one ingest function."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ..config import FlaggingConfig
from ..ingest.events import EventIn, StoreResult, store_events
from ..ingest.flagging import HONEYPOT
from .tokens import ClickToken, OpenToken


def record_open(session: Session, token: OpenToken, *, at: datetime, user_agent: str | None,
                ip: str | None, flagging: FlaggingConfig | None = None) -> StoreResult:
    event = EventIn(type="open", occurred_at=at, source="pixel", subscriber_id=token.subscriber_id,
                    campaign_id=token.campaign_id, user_agent=user_agent, ip=ip)
    return store_events(session, token.audience_id, [event], flagging=flagging)


def record_click(session: Session, token: ClickToken, *, at: datetime, user_agent: str | None,
                 ip: str | None, flagging: FlaggingConfig | None = None) -> StoreResult:
    event = EventIn(type="click", occurred_at=at, source="click", subscriber_id=token.subscriber_id,
                    campaign_id=token.campaign_id, url=token.url, user_agent=user_agent, ip=ip,
                    machine_reason=HONEYPOT if token.honeypot else None)
    return store_events(session, token.audience_id, [event], flagging=flagging)
