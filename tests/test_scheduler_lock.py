"""Electing one active scheduler: advisory lock on PostgreSQL, expiring lease row on SQLite."""

import time

from mailseg.db import Database
from mailseg.scheduler.leader import AdvisoryLock, LeaseLock, leader_lock


def test_lease_lock_elects_one_holder_and_hands_over_after_expiry(database):
    a = LeaseLock(database, lease_seconds=2, holder="host:a")
    b = LeaseLock(database, lease_seconds=2, holder="host:b")
    assert a.try_acquire()
    assert not b.try_acquire()
    assert a.still_held()
    assert a.try_acquire()  # re-entrant for the holder
    assert a.current_holder() == "host:a"
    time.sleep(2.2)
    assert b.try_acquire()  # a stopped renewing: b takes over
    assert not a.still_held()  # and a learns it lost the lock
    b.release()
    assert a.try_acquire()


def test_advisory_lock_is_exclusive_and_released_with_its_connection(db_url):
    first, second = Database(db_url), Database(db_url)
    if first.dialect != "postgresql":
        assert isinstance(leader_lock(first, 30), LeaseLock)
        return
    a, b = AdvisoryLock(first), AdvisoryLock(second)
    try:
        assert a.try_acquire()
        assert not b.try_acquire()
        assert a.still_held()
        a.conn.invalidate()  # the connection dies, as when the process is killed
        a.conn = None
        assert b.try_acquire()
        assert not a.still_held()
    finally:
        a.release()
        b.release()
        first.dispose()
        second.dispose()


def test_a_leader_that_stalled_past_its_lease_runs_no_job(database, config, caplog):
    """Fencing: when a job fires after the leader's own lease ran out (the process was frozen and a
    standby may have taken over), the job is skipped rather than run twice."""
    from datetime import timedelta

    from mailseg.scheduler import context, jobs

    lock = LeaseLock(database, lease_seconds=2, holder="host:a")
    assert lock.try_acquire() and lock.believed_held()
    ran = []
    jobs.JOBS["probe"] = lambda db, cfg: ran.append(1)
    context.install(context.SchedulerContext(database, config))
    context.set_leader_lock(lock)
    try:
        jobs.run_job("probe")
        lock.renewed_at -= timedelta(seconds=3)  # stalled: the last renewal is older than the lease
        jobs.run_job("probe")
    finally:
        del jobs.JOBS["probe"]
        context.set_leader_lock(None)
    assert ran == [1] and "no longer the active one" in caplog.text
