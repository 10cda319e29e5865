"""Small builders for test data."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from mailseg.models import Audience, Subscriber


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def make_audience(session, name: str = "main", list_id: str | None = "list1") -> Audience:
    audience = Audience(name=name, provider="mailchimp", provider_list_id=list_id)
    session.add(audience)
    session.flush()
    return audience


def make_subscriber(session, audience: Audience, email: str, *, status: str = "subscribed",
                    subscribed_at: datetime | None = None, **extra) -> Subscriber:
    sub = Subscriber(audience_id=audience.id, email=email, status=status,
                     subscribed_at=subscribed_at or utc(2025, 1, 1), **extra)
    session.add(sub)
    session.flush()
    return sub


def write_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text.lstrip("\n"), encoding="utf-8")
    return path


def make_exposures(session, audience_id: int, policy: str, key: str, at: datetime, subscriber_ids, *, held: bool,
                   variant: int = 0, campaign_id: int | None = None, share: float = 0.5, salt: str = "") -> None:
    """Exposures of one group of an experiment, as the policies record them."""
    from mailseg.experiments.exposures import cohort_of
    from mailseg.models import Exposure

    for sid in subscriber_ids:
        session.add(Exposure(audience_id=audience_id, policy=policy, key=key, subscriber_id=sid, held_out=held,
                             exposed_at=at, cohort=cohort_of(at), salt=salt, share=share, variant=variant,
                             campaign_id=campaign_id))
    session.flush()


def make_event(session, subscriber_id: int, type_: str, at: datetime, *, machine: bool = False,
               amount: float | None = None, campaign_id: int | None = None) -> None:
    import uuid

    from mailseg.models import Event

    session.add(Event(subscriber_id=subscriber_id, type=type_, occurred_at=at, is_machine=machine, amount=amount,
                      campaign_id=campaign_id, source="import", dedupe_key=uuid.uuid4().hex))
    session.flush()
