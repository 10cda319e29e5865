"""`mailseg pull`: import members, sends and email activity from the platform, incrementally.

Members changed since the last pull (since_last_changed) are upserted; the e-commerce store's orders
(mailchimp.store_id) changed since the last pull become purchases; for campaigns sent inside the
engagement window, recipients are read once and activity since the last pull, all stored through
store_events (source "pull"), which drops what is already stored: a second pull adds nothing.
Watermarks live in pull_cursors and trail the pull's start by a few minutes, since the platform
may record an event late; the overlap is absorbed by deduplication.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Config
from ..engagement.window import window_bounds
from ..ingest.events import EventIn, StoreResult, store_events
from ..models import Audience, Campaign, Event, PullCursor, Subscriber, normalise_email, utcnow
from ..progress import Progress
from ..providers.base import Activity, CampaignInfo, EmailPlatform, Member
from ..runs import finish_run, recorded_run
from ..sqlutil import chunked, refresh_statistics, upsert
from ..subscribers.lookup import subscriber_ids_by_email
from ..subscribers.upsert import SubscriberRow, upsert_subscribers
from .classes import provider_list_id
from .state import clear_failures_for

CHUNK = 1000
OVERLAP = timedelta(minutes=5)
# Statuses mailseg keeps; transactional and archived contacts are not part of the audience.
KEPT_STATUSES = {"subscribed", "unsubscribed", "cleaned", "pending"}
# Mailchimp's email activity has opens, clicks and bounces; the sandbox also reports unsubscribes and
# purchases per campaign (as Mailchimp's unsubscribe report and e-commerce orders would).
EVENT_BY_ACTION = {"open": "open", "click": "click", "bounce": "bounce", "unsubscribe": "unsubscribe",
                   "purchase": "purchase"}


@dataclass
class PullReport:
    members: int = 0
    inserted: int = 0
    updated: int = 0
    campaigns: int = 0
    events: StoreResult = field(default_factory=StoreResult)
    # E-commerce orders (mailchimp.store_id): read, unchanged since the last pull, and stored.
    orders_read: int = 0
    orders_unchanged: int = 0
    orders: StoreResult = field(default_factory=StoreResult)

    def summary(self) -> dict:
        return {"members": self.members, "inserted": self.inserted, "updated": self.updated,
                "campaigns": self.campaigns, "events_received": self.events.received,
                "events_stored": self.events.inserted, "events_duplicate": self.events.duplicates,
                "events_unknown": self.events.unknown, "by_type": dict(self.events.by_type),
                "orders_read": self.orders_read, "orders_unchanged": self.orders_unchanged,
                "orders_stored": self.orders.inserted, "orders_cancelled": self.orders.orders_cancelled,
                "orders_unknown_email": self.orders.unknown}


def pull_audience(session: Session, audience: Audience, config: Config, platform: EmailPlatform,
                  *, progress: Progress | None = None, as_of: datetime | None = None) -> PullReport:
    """Pull members, then sends and activity of recent campaigns; recorded as a job run "pull".
    `as_of` (default now) is the moment the watermarks are set from (a simulation's clock)."""
    list_id = provider_list_id(audience, config)
    report = PullReport()
    with recorded_run(session, "pull", audience_id=audience.id, as_of=as_of) as run:
        started = as_of or utcnow()
        _pull_members(session, audience.id, list_id, platform, config.sync.tag_prefix, started, report, progress)
        refresh_statistics(session, {Subscriber.__tablename__: report.inserted})  # before the sends' lookups
        if config.mailchimp.store_id:
            _pull_orders(session, audience.id, config.mailchimp.store_id, platform, started, report, progress)
        oldest, _ = window_bounds(started, config.engagement.window_months)  # campaigns that can still count
        for campaign in platform.sent_campaigns(list_id):
            if campaign.sent_at is not None and campaign.sent_at >= oldest:
                _pull_campaign(session, audience.id, campaign, platform, started, report, progress)
        refresh_statistics(session, {Event.__tablename__: report.events.inserted + report.orders.inserted})
        finish_run(session, run, report.summary())
    return report


def _pull_members(session: Session, audience_id: int, list_id: str, platform: EmailPlatform, prefix: str,
                  started: datetime, report: PullReport, progress: Progress | None) -> None:
    since = get_cursor(session, audience_id, "members")
    for chunk in chunked(platform.list_members(list_id, since_last_changed=since), CHUNK):
        rows = [_subscriber_row(member, prefix) for member in chunk if member.status in KEPT_STATUSES]
        inserted, updated = upsert_subscribers(session, audience_id, rows, source="pull")
        report.members += len(chunk)
        report.inserted += inserted
        report.updated += updated
        # the platform has these addresses now: refused tag updates get retried on the next sync
        clear_failures_for(session, list(subscriber_ids_by_email(session, audience_id, [row.email for row in rows]).values()))
        session.commit()
        if progress is not None:
            progress.advance(len(chunk))
    set_cursor(session, audience_id, "members", started - OVERLAP)
    session.commit()


def _subscriber_row(member: Member, prefix: str) -> SubscriberRow:
    merge = dict(member.merge_fields)
    values: dict = {"status": member.status,
                    "first_name": str(merge.pop("FNAME", "") or "").strip() or None,
                    "last_name": str(merge.pop("LNAME", "") or "").strip() or None,
                    "merge_fields": merge,
                    # our own mirrored tags are not the subscriber's tags
                    "tags": [tag for tag in member.tags if not tag.startswith(prefix)]}
    if member.subscribed_at is not None:
        values["subscribed_at"] = member.subscribed_at
    if member.unique_email_id:
        values["unique_email_id"] = member.unique_email_id
    # the member's last_changed dates a status change the pull brings
    return SubscriberRow(normalise_email(member.email), values, status_at=member.last_changed)


def _pull_orders(session: Session, audience_id: int, store_id: str, platform: EmailPlatform, started: datetime,
                 report: PullReport, progress: Progress | None) -> None:
    """The store's orders as purchases, matched by the customer's email. The platform cannot filter by
    change time, so every page is read and orders not updated since the last pull are skipped;
    refunded and cancelled orders are stored with that state (a later pull cancels a stored order)."""
    cursor_name = f"store:{store_id}:orders"
    since = get_cursor(session, audience_id, cursor_name)
    fresh = []
    for order in platform.store_orders(store_id):
        report.orders_read += 1
        changed = order.updated_at or order.processed_at
        if order.processed_at is None or order.email is None or (since is not None and changed is not None and changed <= since):
            report.orders_unchanged += 1
            continue
        status = "cancelled" if order.cancelled_at is not None else order.financial_status
        fresh.append(EventIn("purchase", order.processed_at, "pull", email=order.email, amount=order.total,
                             order_id=order.id, order_status=status))
    for chunk in chunked(fresh, CHUNK):
        report.orders.add(store_events(session, audience_id, chunk))
        session.commit()
        if progress is not None:
            progress.advance(len(chunk))
    set_cursor(session, audience_id, cursor_name, started - OVERLAP)
    session.commit()


def _pull_campaign(session: Session, audience_id: int, campaign: CampaignInfo, platform: EmailPlatform,
                   started: datetime, report: PullReport, progress: Progress | None) -> None:
    report.campaigns += 1
    _record_campaign(session, audience_id, campaign)
    sends_cursor = f"campaign:{campaign.id}:sends"
    if get_cursor(session, audience_id, sends_cursor) is None:
        sends = (EventIn("send", campaign.sent_at, "pull", email=r.email, campaign=campaign.id)
                 for r in platform.campaign_recipients(campaign.id))
        _store(session, audience_id, sends, report, progress)
        set_cursor(session, audience_id, sends_cursor, started)
    activity_cursor = f"campaign:{campaign.id}:activity"
    since = get_cursor(session, audience_id, activity_cursor)
    events = (_event(campaign.id, a) for a in platform.campaign_activity(campaign.id, since=since)
              if a.action in EVENT_BY_ACTION)
    _store(session, audience_id, events, report, progress)
    set_cursor(session, audience_id, activity_cursor, started - OVERLAP)
    session.commit()


def _event(campaign_id: str, activity: Activity) -> EventIn:
    hard_bounce = activity.action == "bounce" and activity.bounce_type == "hard"
    return EventIn(EVENT_BY_ACTION[activity.action], activity.occurred_at, "pull", email=activity.email,
                   campaign=campaign_id, url=activity.url, ip=activity.ip, amount=activity.amount,
                   new_status="cleaned" if hard_bounce else None)


def _record_campaign(session: Session, audience_id: int, campaign: CampaignInfo) -> None:
    # A campaign mailseg made itself keeps its kind and version; it is marked sent once the platform says so.
    stmt = upsert(session, Campaign.__table__)
    stmt = stmt.on_conflict_do_update(index_elements=["audience_id", "provider_id"],
                                      set_={"status": "sent", "sent_at": stmt.excluded.sent_at, "on_platform": True})
    session.execute(stmt, [{"audience_id": audience_id, "provider_id": campaign.id,
                            "name": campaign.title or campaign.id, "subject": campaign.subject, "kind": "regular",
                            "status": "sent", "sent_at": campaign.sent_at, "variant": 1, "on_platform": True,
                            "created_at": utcnow()}])


def _store(session: Session, audience_id: int, events: Iterable[EventIn], report: PullReport,
           progress: Progress | None) -> None:
    for chunk in chunked(events, CHUNK):
        report.events.add(store_events(session, audience_id, chunk))
        session.commit()
        if progress is not None:
            progress.advance(len(chunk))


def get_cursor(session: Session, audience_id: int, name: str) -> datetime | None:
    return session.scalar(select(PullCursor.value).where(PullCursor.audience_id == audience_id,
                                                         PullCursor.name == name))


def set_cursor(session: Session, audience_id: int, name: str, value: datetime) -> None:
    stmt = upsert(session, PullCursor.__table__)
    stmt = stmt.on_conflict_do_update(index_elements=["audience_id", "name"], set_={"value": stmt.excluded.value})
    session.execute(stmt, [{"audience_id": audience_id, "name": name, "value": value}])
