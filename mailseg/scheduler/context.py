"""What the running scheduler hands to its jobs: the database and the base config.

APScheduler stores a job by reference (mailseg.scheduler.jobs:run_job) with only its name as argument,
so the process installs this context once when it starts and the jobs read it from here; jobs.py and
service.py both depend on this module and neither on the other's globals.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Config
from ..db import Database


@dataclass(frozen=True)
class SchedulerContext:
    db: Database
    config: Config


_installed: SchedulerContext | None = None


def install(context: SchedulerContext) -> None:
    global _installed
    _installed = context


def current() -> SchedulerContext:
    if _installed is None:
        raise RuntimeError("scheduler jobs run only inside `mailseg scheduler`")
    return _installed


_leader_lock = None  # the leader lock of this process, while it leads


def set_leader_lock(lock) -> None:
    global _leader_lock
    _leader_lock = lock


def still_leading() -> bool:
    """Whether this process still holds the leader lock (renewing it): a job that fires after the
    lock was lost — the process stalled past its lease and a standby took over — must not run."""
    return _leader_lock is not None and _leader_lock.believed_held()
