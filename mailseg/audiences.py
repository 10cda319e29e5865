"""Finding the audience a command works on."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Audience

DEFAULT_AUDIENCE = "default"


class AudienceNotFound(LookupError):
    pass


def find_audience(session: Session, name: str | None = None) -> Audience:
    """The named audience; without a name, the only one there is."""
    if name is not None:
        audience = session.scalar(select(Audience).where(Audience.name == name))
        if audience is None:
            known = ", ".join(session.scalars(select(Audience.name).order_by(Audience.name))) or "none yet"
            raise AudienceNotFound(f"no audience named {name!r} (known: {known})")
        return audience
    audiences = list(session.scalars(select(Audience).order_by(Audience.id).limit(2)))
    if not audiences:
        raise AudienceNotFound("there is no audience yet: import subscribers first (mailseg import subscribers FILE)")
    if len(audiences) > 1:
        raise AudienceNotFound("there are several audiences: choose one with --audience NAME")
    return audiences[0]


def ensure_audience(session: Session, name: str | None = None, *, provider_list_id: str | None = None) -> Audience:
    """The named (or only) audience, created when the database has none of that name."""
    try:
        return find_audience(session, name)
    except AudienceNotFound:
        if name is None and session.scalar(select(Audience.id).limit(1)) is not None:
            raise
    audience = Audience(name=name or DEFAULT_AUDIENCE, provider="mailchimp", provider_list_id=provider_list_id or None)
    session.add(audience)
    session.flush()
    return audience
