"""The scheduler process: wait to be elected, then run APScheduler with its jobs persisted in the
database (SQLAlchemyJobStore), missed runs coalesced, one instance of each job at a time."""

from __future__ import annotations

import logging
import threading

from ..config import Config
from ..db import Database
from ..runs import this_process
from ..schedules import make_trigger
from .context import SchedulerContext, install, set_leader_lock
from .jobs import JOBS, PLAN_JOB_PREFIX
from .leader import leader_lock

log = logging.getLogger(__name__)

JOB_FUNCTION = "mailseg.scheduler.jobs:run_job"


def schedule_of(config: Config, job: str) -> str:
    return getattr(config.scheduler, f"{job}_schedule")


def run_scheduler(db: Database, config: Config, *, stop: threading.Event) -> None:
    """Run until `stop` is set: as the active scheduler when elected, as a hot standby otherwise."""
    install(SchedulerContext(db, config))
    lock = leader_lock(db, config.scheduler.lease_seconds)
    log.info("scheduler %s started; waiting to become the active scheduler", this_process())
    while not stop.is_set():
        if lock.try_acquire():
            set_leader_lock(lock)
            try:
                _lead(db, config, lock, stop)
            finally:
                set_leader_lock(None)
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
