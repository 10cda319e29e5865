"""`mailseg sync`: the engagement classes and value segments mirrored as tags, one recorded run per sync."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import false, select
from sqlalchemy.orm import Session

from ..config import Config
from ..engagement.rules import in_class
from ..models import SUPPRESSED_STATUSES, Audience, Subscriber
from ..progress import Progress
from ..providers import PlatformFactory, ProviderError
from ..runs import finish_run, recorded_run
from .engine import Plan, SegmentSpec, SyncOptions, SyncReport, plan_segments, sync_segments

# The classes mirrored as tags; exclusive because each subscriber has exactly one class.
ENGAGEMENT_CLASSES = ("active", "semi_active", "inactive", "new")


def engagement_specs(audience_id: int, prefix: str) -> list[SegmentSpec]:
    """One segment per class: subscribers currently in the class and still mailable."""
    return [SegmentSpec(f"{prefix}{name}", select(Subscriber.id).where(
                Subscriber.audience_id == audience_id, in_class(Subscriber.id, name),
                Subscriber.status.not_in(SUPPRESSED_STATUSES)))
            for name in ENGAGEMENT_CLASSES]


def value_specs(session: Session, audience_id: int, config: Config) -> list[SegmentSpec]:
    """One segment per value segment of the families in value.sync (mailseg:rfm:champions,
    mailseg:abc:A, mailseg:value:profitable_loyal, ...): the mailable subscribers holding it now.
    Only segments someone holds, or mirrored before (to empty them), so an audience without orders
    gets no empty value tags. The tags of a family taken out of value.sync are emptied like a
    retired segment's: an empty spec for each of them mirrored before."""
    from ..models import SubscriberValue, SyncSegment
    from ..value.segments import TAG_FAMILIES, value_tag

    columns = {"rfm": SubscriberValue.rfm_segment, "abc": SubscriberValue.abc_class, "quadrant": SubscriberValue.quadrant}
    mirrored = set(session.scalars(select(SyncSegment.name).where(SyncSegment.audience_id == audience_id)))
    specs = []
    for family in config.value.sync:
        column = columns[family]
        held = set(session.scalars(select(column).where(SubscriberValue.audience_id == audience_id,
                                                        column.is_not(None)).distinct()))
        held.discard("prospect")
        prefix = value_tag(config.sync.tag_prefix, family, "")
        held |= {name[len(prefix):] for name in mirrored if name.startswith(prefix)}
        specs.extend(SegmentSpec(value_tag(config.sync.tag_prefix, family, name), select(Subscriber.id)
                                 .join(SubscriberValue, SubscriberValue.subscriber_id == Subscriber.id)
                                 .where(Subscriber.audience_id == audience_id, column == name,
                                        Subscriber.status.not_in(SUPPRESSED_STATUSES)))
                     for name in sorted(held))
    for family in TAG_FAMILIES:
        if family not in config.value.sync:
            prefix = value_tag(config.sync.tag_prefix, family, "")
            specs.extend(SegmentSpec(name, select(Subscriber.id).where(false()))
                         for name in sorted(mirrored) if name.startswith(prefix))
    return specs


def mirrored_specs(session: Session, audience_id: int, config: Config) -> list[SegmentSpec]:
    """Every segment `mailseg sync` mirrors: the engagement classes, the value segments, then the synced
    rule segments and survey answers (and retired tags, emptied)."""
    from ..segments.mirror import segment_specs

    return (engagement_specs(audience_id, config.sync.tag_prefix) + value_specs(session, audience_id, config)
            + segment_specs(session, audience_id, config.sync.tag_prefix))


def sync_options(config: Config) -> SyncOptions:
    return SyncOptions(batch_size=config.sync.batch_size, max_connections=config.mailchimp.max_connections,
                       address_attempts=config.sync.address_attempts)


def provider_list_id(audience: Audience, config: Config) -> str:
    list_id = audience.provider_list_id or config.mailchimp.list_id
    if not list_id:
        raise ProviderError(f"audience {audience.name!r} has no Mailchimp list id: set mailchimp.list_id")
    return list_id


def plan_engagement_sync(session: Session, audience: Audience, config: Config) -> list[Plan]:
    """What `mailseg sync` would add and remove per tag; calls nothing and writes nothing."""
    return plan_segments(session, audience.id, mirrored_specs(session, audience.id, config), sync_options(config))


def sync_engagement(session: Session, audience: Audience, config: Config, factory: PlatformFactory,
                    *, progress: Progress | None = None, as_of: datetime | None = None) -> SyncReport:
    """Mirror the engagement classes and synced segments onto the platform, recorded as a job run "sync"
    (with the as_of of the chain it belongs to, when it runs in one)."""
    from ..segments.mirror import forget_retired, retired_tags

    list_id = provider_list_id(audience, config)
    report = SyncReport()
    with recorded_run(session, "sync", audience_id=audience.id, as_of=as_of) as run:
        retired = retired_tags(session, audience.id)
        try:
            sync_segments(session, audience.id, list_id, mirrored_specs(session, audience.id, config),
                          factory, sync_options(config), progress=progress, report=report)
            forget_retired(session, audience.id, retired)
        except Exception:
            session.rollback()  # completed batches are committed already
            run.summary = report.summary()  # what completed before the failure stays visible
            session.commit()
            raise
        finish_run(session, run, report.summary())
    return report
