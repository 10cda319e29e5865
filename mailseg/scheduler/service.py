"""The scheduler process: wait to be elected, then run APScheduler with its jobs persisted in the
database (SQLAlchemyJobStore), missed runs coalesced, one instance of each job at a time."""

from __future__ import annotations

import logging
import threading

from ..config import Config
from ..db import Database
from .jobs import JOBS, PLAN_JOB_PREFIX
from ..runs import this_process
from .leader import leader_lock
from .schedule import make_trigger

log = logging.getLogger(__name__)

JOB_FUNCTION = "mailseg.scheduler.jobs:run_job"
_context: tuple[Database, Config] | None = None
_lock = None  # the leader lock of this process, while it leads


def current_context() -> tuple[Database, Config]:
    if _context is None:
        raise RuntimeError("scheduler jobs run only inside `mailseg scheduler`")
    return _context


def still_leading() -> bool:
    """Whether this process still holds the leader lock (renewing it): a job that fires after the
    lock was lost — the process stalled past its lease and a standby took over — must not run."""
    return _lock is not None and _lock.believed_held()


def schedule_of(config: Config, job: str) -> str:
    return getattr(config.scheduler, f"{job}_schedule")


def run_scheduler(db: Database, config: Config, *, stop: threading.Event) -> None:
    """Run until `stop` is set: as the active scheduler when elected, as a hot standby otherwise."""
    global _context, _lock
    _context = (db, config)
    lock = leader_lock(db, config.scheduler.lease_seconds)
    log.info("scheduler %s started; waiting to become the active scheduler", this_process())
    while not stop.is_set():
        if lock.try_acquire():
            _lock = lock
            try:
                _lead(db, config, lock, stop)
            finally:
                _lock = None
                lock.release()
        else:
            stop.wait(config.scheduler.standby_poll_seconds)
    log.info("scheduler %s stopped", this_process())


def _lead(db: Database, config: Config, lock, stop: threading.Event) -> None:
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=db.engine)},
        executors={"default": ThreadPoolExecutor(2)},
        job_defaults={"coalesce": True, "max_instances": 1,
                      "misfire_grace_time": config.scheduler.misfire_grace_seconds},
        timezone=config.scheduler.timezone,
    )
    scheduler.start(paused=True)
    _install_jobs(scheduler, config)
    install_plan_jobs(scheduler, db)
    scheduler.resume()
    log.info("scheduler %s is the active scheduler; jobs: %s", this_process(),
             ", ".join(f"{job.id} (next {job.next_run_time:%Y-%m-%d %H:%M:%S %Z})" for job in scheduler.get_jobs()))
    try:
        renew_every = max(1.0, config.scheduler.lease_seconds / 3)
        while not stop.wait(renew_every):
            if not lock.still_held():
                log.error("scheduler %s lost its lock; stepping down", this_process())
                break
            install_plan_jobs(scheduler, db)  # plans added or removed with `mailseg plans`
    finally:
        scheduler.shutdown(wait=True)


def _install_jobs(scheduler, config: Config) -> None:
    """(Re)declare every job with its configured schedule under a fixed id; drop jobs no longer known."""
    for job in scheduler.get_jobs():
        if job.id not in JOBS and not job.id.startswith(PLAN_JOB_PREFIX):
            scheduler.remove_job(job.id)
    for name in JOBS:
        trigger = make_trigger(schedule_of(config, name), config.scheduler.timezone)
        existing = scheduler.get_job(name)
        if existing is not None and str(existing.trigger) == str(trigger):
            continue  # keep its next run time (and any misfire it has to catch up)
        scheduler.add_job(JOB_FUNCTION, trigger=trigger, args=[name], id=name, name=name, replace_existing=True)


def install_plan_jobs(scheduler, db: Database) -> None:
    """One job per campaign plan, id plan:<id>, on the plan's cadence in its time zone; jobs of
    removed plans are dropped, changed cadences replaced."""
    from ..policies.plans import list_plans

    with db.session() as session:
        wanted = {f"{PLAN_JOB_PREFIX}{p.id}": make_trigger(p.cadence, p.timezone) for p in list_plans(session)}
    for job in scheduler.get_jobs():
        if job.id.startswith(PLAN_JOB_PREFIX) and job.id not in wanted:
            scheduler.remove_job(job.id)
    for job_id, trigger in wanted.items():
        existing = scheduler.get_job(job_id)
        if existing is not None and str(existing.trigger) == str(trigger):
            continue
        scheduler.add_job(JOB_FUNCTION, trigger=trigger, args=[job_id], id=job_id, name=job_id, replace_existing=True)
