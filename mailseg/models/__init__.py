"""The data model. Import models from here."""

from .audience import SUBSCRIBER_STATUSES, SUPPRESSED_STATUSES, Audience, Subscriber, normalise_email
from .base import Base, JSONType, UTCDateTime, utcnow
from .campaigns import CAMPAIGN_KINDS, Campaign
from .events import EVENT_SOURCES, EVENT_TYPES, Event
from .history import RUN_STATUSES, ClassChange, JobRun
from .sync import PullCursor, SyncFailure, SyncMember, SyncSegment

__all__ = [
    "Audience", "Base", "ClassChange", "JobRun", "RUN_STATUSES", "CAMPAIGN_KINDS", "Campaign", "EVENT_SOURCES", "EVENT_TYPES", "Event",
    "JSONType", "SUBSCRIBER_STATUSES", "SUPPRESSED_STATUSES", "Subscriber", "UTCDateTime",
    "normalise_email", "utcnow", "PullCursor", "SyncFailure", "SyncMember", "SyncSegment",
]
