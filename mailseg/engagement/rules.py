"""The classification rules as SQL expressions: the one place the engine's rules are written down.

Counted events: opens and clicks with window_start < occurred_at <= as_of. Clicks count only when
not flagged machine/bot; opens count when not flagged, or always with count_machine_opens.
A subscriber exists at as_of when subscribed_at <= as_of; one who does not has no class then.
The status is the one at as_of (the status history, mailseg.subscribers.status).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, and_, case, exists, func, null, or_, select, union

from ..config import EngagementConfig
from ..models import Event, Subscriber, SubscriberClass, SubscriberStatusChange

EVENTS = Event.__table__
SUBSCRIBERS = Subscriber.__table__
# The current classes (one narrow row per classified subscriber; models.SubscriberClass).
CLASSES = SubscriberClass.__table__
STATUS_CHANGES = SubscriberStatusChange.__table__
ENGAGEMENT_TYPES = ("open", "click")


# --- the counted-event rule: the one home of "a human open or click", used by classification,
# explanations, policies (re-engagement, resend, offer), exports and campaign reports ---------------

def human(events=EVENTS):
    """Not flagged as a machine's (Apple MPP proxy, link scanner, honeypot)."""
    return events.c.is_machine.is_(False)


def counted_click(events=EVENTS):
    """A click counts only when a person made it: flagged clicks never count."""
    return and_(events.c.type == "click", human(events))


def counted_open(count_machine_opens: bool | EngagementConfig = False, events=EVENTS):
    """An open counts when a person made it, or any open with engagement.count_machine_opens."""
    if isinstance(count_machine_opens, EngagementConfig):
        count_machine_opens = count_machine_opens.count_machine_opens
    if count_machine_opens:
        return events.c.type == "open"
    return and_(events.c.type == "open", human(events))


def counted_engagement(count_machine_opens: bool | EngagementConfig = False, events=EVENTS):
    """A counted open or a counted click."""
    return or_(counted_open(count_machine_opens, events), counted_click(events))


def engaged_between(subscriber_id, after, until, count_machine_opens: bool | EngagementConfig = False):
    """EXISTS a counted open or click of the subscriber with after < occurred_at <= until (`after` and
    `subscriber_id` may be columns): the window of the classification, a re-engagement's wait."""
    return exists(select(EVENTS.c.id).where(EVENTS.c.subscriber_id == subscriber_id,
                                            counted_engagement(count_machine_opens),
                                            EVENTS.c.occurred_at > after, EVENTS.c.occurred_at <= until))


def in_window(window_start: datetime, window_end: datetime):
    return and_(EVENTS.c.occurred_at > window_start, EVENTS.c.occurred_at <= window_end)


def window_counts(audience_id: int, window_start: datetime, window_end: datetime,
                  settings: EngagementConfig) -> Select:
    """Per subscribed subscriber with any open or click in the window: counted clicks and opens.
    Only the window's opens and clicks are aggregated (see docs/BENCHMARKS.md for the cost)."""
    clicks = func.sum(case((counted_click(), 1), else_=0)).label("clicks")
    opens = func.sum(case((counted_open(settings), 1), else_=0)).label("opens")
    return (select(EVENTS.c.subscriber_id, clicks, opens)
            .join(SUBSCRIBERS, SUBSCRIBERS.c.id == EVENTS.c.subscriber_id)
            .where(SUBSCRIBERS.c.audience_id == audience_id, may_be_subscribed_at(window_end),
                   EVENTS.c.type.in_(ENGAGEMENT_TYPES), in_window(window_start, window_end))
            .group_by(EVENTS.c.subscriber_id))


def may_be_subscribed_at(as_of: datetime):
    """Subscribed now, or changed status after as_of (so possibly subscribed then): the subscribers whose
    events can matter. status_changed_at is the time of the latest change, so for everyone else the
    status now is the status at as_of."""
    return or_(SUBSCRIBERS.c.status == "subscribed", SUBSCRIBERS.c.status_changed_at > as_of)


def exists_at(as_of: datetime):
    return SUBSCRIBERS.c.subscribed_at <= as_of


def class_at_expression(clicks, opens, status, window_start: datetime, as_of: datetime,
                        settings: EngagementConfig):
    """The class at as_of, NULL for a subscriber who did not exist yet."""
    return case((~exists_at(as_of), null()),
                else_=class_expression(clicks, opens, window_start, settings, status=status))


def class_expression(clicks, opens, window_start: datetime, settings: EngagementConfig, *, status=None):
    """CASE giving the class from the subscriber's status (default: now), counted clicks and opens (NULL = none)."""
    status = SUBSCRIBERS.c.status if status is None else status
    return case(
        (status != "subscribed", status),
        (_active(clicks, settings), "active"),
        (_semi_active(opens, settings), "semi_active"),
        (_new(window_start), "new"),
        else_="inactive",
    )


def _active(clicks, settings: EngagementConfig):
    return func.coalesce(clicks, 0) >= settings.active_min_clicks


def _semi_active(opens, settings: EngagementConfig):
    return func.coalesce(opens, 0) >= settings.semi_active_min_opens


def _new(window_start):
    return SUBSCRIBERS.c.subscribed_at > window_start


# --- what a class depends on, for the backfill's incremental points ------------------------------
# The class at T is a function of: existing at T, the status at T, which of the two thresholds the
# window's counts meet, and subscribed_at > window_start. Between two moments it can only change for
# the subscribers for whom one of these changes: the two functions below find them.

def engagement_level(clicks, opens, settings: EngagementConfig):
    """2 when the counts make a subscribed subscriber active, 1 semi-active, 0 neither."""
    return case((_active(clicks, settings), 2), (_semi_active(opens, settings), 1), else_=0)


def class_clock_changes(audience_id: int, before: tuple[datetime, datetime],
                        after: tuple[datetime, datetime]) -> Select:
    """Named statement "clock changes": the subscribers whose existence, status or "new" may differ
    between the windows before = (start, as_of) and after (later): subscribed in (as_of before, as_of
    after], a status change in that interval, or subscribed_at in (start before, start after] (no
    longer new). Ranges of ix_subscribers_audience_subscribed and ix_status_changes_audience_time."""
    (start_before, as_of_before), (start_after, as_of_after) = before, after
    audience = SUBSCRIBERS.c.audience_id == audience_id
    joined = select(SUBSCRIBERS.c.id.label("subscriber_id")).where(
        audience, SUBSCRIBERS.c.subscribed_at > as_of_before, SUBSCRIBERS.c.subscribed_at <= as_of_after)
    aged = select(SUBSCRIBERS.c.id).where(
        audience, SUBSCRIBERS.c.subscribed_at > start_before, SUBSCRIBERS.c.subscribed_at <= start_after)
    status = select(STATUS_CHANGES.c.subscriber_id).where(
        STATUS_CHANGES.c.audience_id == audience_id, STATUS_CHANGES.c.changed_at > as_of_before,
        STATUS_CHANGES.c.changed_at <= as_of_after)
    return union(joined, aged, status)


def in_class(subscriber_id, *names: str):
    """The subscriber's current class (subscriber_classes) is one of names: an EXISTS on the narrow
    table, a semi-join on its primary key (the selections of the policies, sync and panel)."""
    return exists().where(CLASSES.c.subscriber_id == subscriber_id, CLASSES.c.engagement_class.in_(names))
