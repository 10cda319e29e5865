"""Mirroring segments onto an email platform: batched, concurrent, resumable.

Any segment is a name plus a SELECT of the subscriber ids that belong in it (engagement classes
today; rule segments and policy tags tomorrow). Worker threads (each with its own platform client)
only call the API; the calling thread records every completed batch in its own commit, so a crash
leaves the recorded state equal to what the platform holds for completed batches, and the next run
sends only what is still missing.
"""

from __future__ import annotations

import itertools
import logging
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Iterator

from sqlalchemy import Select
from sqlalchemy.orm import Session

from ..models import normalise_email
from ..progress import Progress
from ..providers import PlatformFactory
from ..sqlutil import chunked
from ..providers.base import CallCounts, EmailPlatform, SegmentUpdate
from . import state
from .state import RecordedSegment

log = logging.getLogger(__name__)
FAILURE_SAMPLES = 20
# Membership changes after which the database's statistics are refreshed.
LARGE_SYNC = 10_000


@dataclass(frozen=True)
class SegmentSpec:
    name: str  # the platform's tag name, prefix included
    desired: Select  # subscriber ids (column `id`) that belong in the segment


@dataclass(frozen=True)
class SyncOptions:
    batch_size: int = 500
    max_connections: int = 4
    address_attempts: int = 3


@dataclass
class TagReport:
    added: int = 0
    removed: int = 0
    failed: int = 0
    skipped: int = 0  # refused too often before; not sent again
    failures: list[tuple[str, str]] = field(default_factory=list)  # (email, reason), a sample

    def as_dict(self) -> dict:
        return {"added": self.added, "removed": self.removed, "failed": self.failed, "skipped": self.skipped,
                "failures": [{"email": e, "error": r} for e, r in self.failures]}


@dataclass
class SyncReport:
    tags: dict[str, TagReport] = field(default_factory=dict)
    calls: CallCounts = field(default_factory=CallCounts)
    batches: int = 0

    def summary(self) -> dict:
        return {"tags": {name: tag.as_dict() for name, tag in self.tags.items()}, "batches": self.batches,
                "api_calls": self.calls.calls, "write_calls": self.calls.writes, "retries": self.calls.retries}


@dataclass(frozen=True)
class Batch:
    segment: RecordedSegment
    add: list[tuple[int, str]]
    remove: list[tuple[int, str]]


@dataclass(frozen=True)
class Plan:
    """What a sync would do to one segment (a dry run)."""

    name: str
    adds: int
    removes: int
    sample_adds: list[str]
    sample_removes: list[str]


def plan_segments(session: Session, audience_id: int, specs: list[SegmentSpec], options: SyncOptions,
                  *, sample: int = 5) -> list[Plan]:
    """Counts (and a few addresses) of what a sync would add and remove; touches nothing."""
    plans = []
    for spec in specs:
        recorded = state.recorded_segment(session, audience_id, spec.name)
        segment_id = recorded.id if recorded else None
        adds, removes = state.count_diff(session, segment_id, spec.desired, options.address_attempts)
        plans.append(Plan(spec.name, adds, removes,
                          [e for _, e in itertools.islice(
                              state.pending_adds(session, segment_id, spec.desired, options.address_attempts), sample)],
                          [e for _, e in itertools.islice(
                              state.pending_removes(session, segment_id, spec.desired), sample)]))
    return plans


def sync_segments(session: Session, audience_id: int, list_id: str, specs: list[SegmentSpec],
                  factory: PlatformFactory, options: SyncOptions, *, progress: Progress | None = None,
                  report: SyncReport | None = None) -> SyncReport:
    """Bring each segment on the platform to its desired membership; returns what was done (also
    filled into `report` as it happens, so a failed run can still say what it completed)."""
    report = report if report is not None else SyncReport()
    report.tags.update({spec.name: TagReport() for spec in specs})
    platform = factory()
    segments = [_ensure_segment(session, audience_id, list_id, spec.name, platform) for spec in specs]
    with_failures = {s.id for s in segments if state.has_failures(session, s.id)}
    clients: list[EmailPlatform] = [platform]
    local = threading.local()
    lock = threading.Lock()

    def work(batch: Batch) -> SegmentUpdate:
        client = getattr(local, "platform", None)
        if client is None:
            client = local.platform = factory()
            with lock:
                clients.append(client)
        return client.update_segment(list_id, batch.segment.provider_segment_id,
                                     add=[e for _, e in batch.add], remove=[e for _, e in batch.remove])

    def confirm(batch: Batch, update: SegmentUpdate) -> None:
        _confirm(session, batch, update, report.tags[batch.segment.name], batch.segment.id in with_failures)
        report.batches += 1
        if progress is not None:
            progress.advance(len(batch.add) + len(batch.remove))

    try:
        _run_pool(_batches(session, segments, specs, options), work, confirm, options.max_connections)
    finally:
        for client in clients:
            report.calls.add(client.counts)
    if sum(tag.added + tag.removed for tag in report.tags.values()) >= LARGE_SYNC:
        state.refresh_statistics(session)
    for segment in segments:
        state.mark_synced(session, segment.id)
        report.tags[segment.name].skipped = state.refused_count(session, segment.id, options.address_attempts)
    return report


def _ensure_segment(session: Session, audience_id: int, list_id: str, name: str,
                    platform: EmailPlatform) -> RecordedSegment:
    recorded = state.recorded_segment(session, audience_id, name)
    if recorded is not None:
        if platform.segment_exists(list_id, recorded.provider_segment_id):
            return recorded
        log.warning("tag %r was deleted on the platform: making it again with all its members", name)
        state.forget_segment(session, recorded.id)
    ref = platform.ensure_static_segment(list_id, name)
    held = list(platform.segment_members(list_id, ref.id)) if ref.member_count else []
    return state.record_segment(session, audience_id, name, ref.id, held)


def _batches(session: Session, segments: list[RecordedSegment], specs: list[SegmentSpec],
             options: SyncOptions) -> Iterator[Batch]:
    size = options.batch_size
    for segment, spec in zip(segments, specs):
        adds = state.pending_adds(session, segment.id, spec.desired, options.address_attempts)
        removes = state.pending_removes(session, segment.id, spec.desired)
        for add, remove in itertools.zip_longest(chunked(adds, size), chunked(removes, size), fillvalue=[]):
            yield Batch(segment, add, remove)


def _run_pool(batches: Iterator[Batch], work, confirm, workers: int) -> None:
    """Keep at most 2 x workers batches in flight; confirm each as it completes. On an error, stop
    sending, confirm what still completes, then raise the first error."""
    error: BaseException | None = None
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sync") as pool:
        in_flight: dict[Future, Batch] = {}

        def settle(futures) -> None:
            nonlocal error
            for future in futures:
                batch = in_flight.pop(future)
                if future.exception() is not None:
                    error = error or future.exception()
                else:
                    confirm(batch, future.result())

        try:
            for batch in batches:
                while len(in_flight) >= 2 * workers and error is None:
                    done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    settle(done)
                if error is not None:
                    break
                in_flight[pool.submit(work, batch)] = batch
            settle(wait(in_flight).done)
        except BaseException:
            for future in in_flight:
                future.cancel()
            raise
    if error is not None:
        raise error


def _confirm(session: Session, batch: Batch, update: SegmentUpdate, tag: TagReport, clear_failures: bool) -> None:
    refused = {normalise_email(email): reason for email, reason in update.errors.items()}
    added = [i for i, e in batch.add if normalise_email(e) not in refused]
    failed = {"add": [(i, refused[normalise_email(e)]) for i, e in batch.add if normalise_email(e) in refused],
              # an address the platform does not have is not in its segment either: removed all the same
              "remove": [(i, refused[normalise_email(e)]) for i, e in batch.remove if normalise_email(e) in refused]}
    state.confirm_batch(session, batch.segment.id, added=added, removed=[i for i, _ in batch.remove],
                        refused=failed, clear_failures=clear_failures)
    tag.added += len(added)
    tag.removed += len(batch.remove) - len(failed["remove"])
    tag.failed += len(failed["add"]) + len(failed["remove"])
    for email in itertools.islice(refused, max(FAILURE_SAMPLES - len(tag.failures), 0)):
        tag.failures.append((email, refused[email]))
