"""What mailseg needs from an email platform. A platform is one module implementing EmailPlatform;
the sync, pull and policy code only ever talks to this interface."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterator, Protocol


class ProviderError(RuntimeError):
    """The platform refused a call (after retries, where retrying makes sense)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AuthenticationError(ProviderError):
    """The platform rejected the credentials: nothing else will work, so the run stops."""


@dataclass(frozen=True)
class Member:
    email: str
    status: str  # the platform's own status word (subscribed, unsubscribed, cleaned, pending, ...)
    merge_fields: dict[str, Any]
    tags: list[str]
    last_changed: datetime | None
    subscribed_at: datetime | None = None
    unique_email_id: str | None = None  # Mailchimp's *|UNIQID|* (survey links in its campaigns)


@dataclass(frozen=True)
class SegmentRef:
    id: str
    name: str
    member_count: int


@dataclass
class SegmentUpdate:
    """Result of one bulk add/remove call; errors maps each refused address to the platform's reason."""

    added: int = 0
    removed: int = 0
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CampaignInfo:
    id: str
    status: str
    sent_at: datetime | None
    title: str | None = None
    subject: str | None = None
    from_name: str | None = None
    reply_to: str | None = None
    preview_text: str | None = None
    created_at: datetime | None = None  # when the campaign was made (Mailchimp's create_time)


@dataclass(frozen=True)
class Recipient:
    email: str
    status: str  # sent, hard, soft


@dataclass(frozen=True)
class Activity:
    email: str
    # open, click, bounce; a platform that reports them per campaign also unsubscribe and purchase
    # (the sandbox does; Mailchimp's email activity has the first three only)
    action: str
    occurred_at: datetime
    url: str | None = None
    ip: str | None = None
    bounce_type: str | None = None  # hard | soft, for bounces
    amount: Decimal | None = None  # for purchases


@dataclass(frozen=True)
class StoreOrder:
    """An order of the platform's e-commerce store (Mailchimp /ecommerce/stores/{store_id}/orders)."""

    id: str
    email: str | None  # the customer's email address
    total: Decimal
    financial_status: str | None  # paid, pending, refunded, cancelled, ...
    processed_at: datetime | None
    updated_at: datetime | None
    cancelled_at: datetime | None = None


@dataclass
class CallCounts:
    """API calls made by one platform client: every attempt, and the ones that write."""

    calls: int = 0
    writes: int = 0
    retries: int = 0

    def add(self, other: "CallCounts") -> None:
        self.calls += other.calls
        self.writes += other.writes
        self.retries += other.retries


class EmailPlatform(Protocol):
    """One client of one platform account. Not shared between threads: make one per thread."""

    max_batch: int  # addresses per add (and per remove) list of update_segment
    counts: CallCounts

    def list_members(self, list_id: str, *, since_last_changed: datetime | None = None) -> Iterator[Member]:
        """Every member of the list (paged), or those changed after since_last_changed."""

    def ensure_static_segment(self, list_id: str, name: str) -> SegmentRef:
        """The static segment (tag) of that name, created empty when missing."""

    def segment_members(self, list_id: str, segment_id: str) -> Iterator[str]:
        """Email addresses the platform holds in the segment (paged)."""

    def segment_exists(self, list_id: str, segment_id: str) -> bool:
        """Whether the segment is still on the platform (a marketer may delete a tag there)."""

    def update_segment(self, list_id: str, segment_id: str, *, add: list[str], remove: list[str]) -> SegmentUpdate:
        """Add and remove at most max_batch addresses each, in one call; refused addresses come back in errors."""

    def update_member_status(self, list_id: str, email: str, status: str) -> str | None:
        """Set a member's status; None when done, else the platform's reason for this address."""

    def add_pending_member(self, list_id: str, email: str, merge_fields: dict[str, Any]) -> str | None:
        """Create a member as pending (the platform sends its double opt-in); an existing one keeps its
        status. None when done, else the platform's reason for this address."""

    def create_campaign(self, list_id: str, segment_id: str | None, *, title: str, subject: str,
                        from_name: str, reply_to: str) -> str:
        """A draft regular campaign to the list (or to one of its segments); returns its id."""

    def campaign(self, campaign_id: str) -> CampaignInfo:
        """One campaign's status and settings."""

    def find_campaign(self, list_id: str, title_prefix: str) -> CampaignInfo | None:
        """The newest campaign of the list whose title starts with title_prefix, if any (any status)."""

    def copy_content(self, source_id: str, target_id: str) -> None:
        """Give the target campaign the source campaign's content (idempotent)."""

    def archive_member(self, list_id: str, email: str) -> str | None:
        """Archive the member; None when done (or already gone), else the platform's reason."""

    def replicate_campaign(self, campaign_id: str) -> str:
        """A draft copy of the campaign with everything set on it (content, preview text, from name,
        reply-to, tracking, template settings); returns the copy's id. The copy's title is the
        platform's ("<title> (copy 01)" on Mailchimp)."""

    def update_campaign(self, campaign_id: str, *, list_id: str, segment_id: str | None, title: str,
                        subject: str) -> None:
        """Point a draft campaign at the list (or one of its static segments) and set its title and
        subject line, in one call; every other setting of the campaign stays as it is.
        (Added for policies built on replicas; see mailseg.policies.actions.)"""

    def schedule_campaign(self, campaign_id: str, at: datetime) -> None: ...

    def send_campaign(self, campaign_id: str) -> None: ...

    def sent_campaigns(self, list_id: str) -> Iterator[CampaignInfo]:
        """Campaigns sent to the list (paged)."""

    def campaign_recipients(self, campaign_id: str) -> Iterator[Recipient]:
        """Who a campaign was sent to (paged)."""

    def campaign_activity(self, campaign_id: str, *, since: datetime | None = None) -> Iterator[Activity]:
        """Opens, clicks and bounces of a campaign (paged), those after since when given."""

    def store_orders(self, store_id: str) -> Iterator[StoreOrder]:
        """Every order of the e-commerce store (paged; the platform offers no "changed since" filter)."""
