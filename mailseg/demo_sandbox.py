"""The demo on the sandbox platform: the demo audience's members are put on a sandbox list (their
hidden traits from the demo year: their class, whether Apple's proxy opened their mail), with the
templates a marketer would prepare (a weekly newsletter, a re-engagement mail, an offer), a weekly
campaign plan, and the settings that switch re-engagement and the offer on. `mailseg simulate` then
runs the scheduled chain over simulated weeks against it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from .config import Config
from .models import Audience, Campaign, Event, Subscriber, SubscriberClass
from .policies.plans import add_plan
from .sandbox import world
from .settings import change_setting

DEMO_LIST = "demo"
DEMO_ACTOR = "demo"
HIDDEN_STATE = {"active": "active", "semi_active": "semi_active", "inactive": "dormant"}


@dataclass(frozen=True)
class SandboxSetup:
    list_id: str
    members: int
    newsletter: str
    reengagement: str
    offer: str


def setup_demo_sandbox(session: Session, audience_id: int, config: Config, clock: datetime) -> SandboxSetup:
    """Put the demo audience on a sandbox list whose clock starts at `clock` (in the caller's transaction)."""
    audience = session.get(Audience, audience_id)
    audience.provider_list_id = DEMO_LIST
    # the demo year's campaigns were never on the platform: nothing to resend from them
    session.execute(update(Campaign).where(Campaign.audience_id == audience_id).values(resend_enabled=False))
    world.ensure_list(session, DEMO_LIST, "Demo audience (simulated)", clock=clock)
    apple = exists(select(Event.id).where(Event.subscriber_id == Subscriber.id, Event.type == "open",
                                          Event.is_machine.is_(True)))
    rows = session.execute(select(Subscriber.email, Subscriber.status, Subscriber.subscribed_at,
                                  SubscriberClass.engagement_class, apple.label("apple"))
                           .outerjoin(SubscriberClass, SubscriberClass.subscriber_id == Subscriber.id)
                           .where(Subscriber.audience_id == audience_id).order_by(Subscriber.id)).all()
    members = [world.NewMember(email, subscribed_at, status=status if status != "complained" else "unsubscribed",
                               state=HIDDEN_STATE.get(klass or ""), apple=bool(is_apple))
               for email, status, subscribed_at, klass, is_apple in rows]
    added = world.add_members(session, DEMO_LIST, members, config.sandbox)
    templates = world.add_marketing_templates(session, DEMO_LIST)
    add_plan(session, audience_id, "weekly newsletter", templates.newsletter, "0 10 * * 2", "UTC")
    for section, key, value in (("reengagement", "template_campaign_id", templates.reengagement),
                                ("offer", "campaign_id", templates.offer)):
        change_setting(session, DEMO_ACTOR, section, key, value, base=config)
    return SandboxSetup(DEMO_LIST, added, templates.newsletter, templates.reengagement, templates.offer)


def new_sandbox_audience(session: Session, list_id: str, members: list[world.NewMember], config: Config, *,
                         name: str, clock: datetime, cadence: str = "0 10 * * 2") -> tuple[int, Config]:
    """A fresh sandbox list with these members and an audience on it with a newsletter plan on `cadence`;
    returns the audience id and the config with re-engagement and the offer switched on (benchmarks, tests)."""
    world.ensure_list(session, list_id, clock=clock)
    world.add_members(session, list_id, members, config.sandbox)
    templates = world.add_marketing_templates(session, list_id)
    audience = Audience(name=name, provider="sandbox", provider_list_id=list_id)
    session.add(audience)
    session.flush()
    add_plan(session, audience.id, "newsletter", templates.newsletter, cadence, "UTC")
    return audience.id, config.replace(reengagement={"template_campaign_id": templates.reengagement},
                                       offer={"campaign_id": templates.offer})
