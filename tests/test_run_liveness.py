"""A run whose process was killed never stays "running": liveness is a lease renewed by a
heartbeat, which a killed, zombie or frozen process cannot keep — on this host or any other."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta


from mailseg.models import JobRun, utcnow
from mailseg.runs import recorded_run, start_run, sweep_interrupted

CHILD = textwrap.dedent("""
    import sys, time
    from datetime import timedelta
    from mailseg.db import Database
    from mailseg.runs import recorded_run
    db = Database(sys.argv[1])
    with db.session() as session, recorded_run(session, "classify", lease=timedelta(seconds=1.5)) as run:
        print(run.id, flush=True)
        time.sleep(600)
""")


def _run(database, run_id: int) -> JobRun:
    with database.session() as s:
        return s.get(JobRun, run_id)


def test_a_killed_zombie_run_is_marked_failed_once_its_lease_expires(db_url, database, session):
    child = subprocess.Popen([sys.executable, "-c", CHILD, db_url], stdout=subprocess.PIPE)
    try:
        run_id = int(child.stdout.readline())
        time.sleep(2.5)  # the child's heartbeat keeps a live run alive past its first lease
        assert sweep_interrupted(session, "classify", None) == 0
        assert _run(database, run_id).status == "running"
        os.kill(child.pid, signal.SIGKILL)
        time.sleep(0.5)
        # not reaped: the child is a zombie, its pid still exists (os.kill(pid, 0) succeeds)
        os.kill(child.pid, 0)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            session.expire_all()
            with database.session() as s:
                start_run(s, "classify")  # what the next classification does first
            if _run(database, run_id).status != "running":
                break
            time.sleep(0.5)
        run = _run(database, run_id)
        assert run.status == "failed" and run.error.startswith("interrupted") and "lease" in run.error
    finally:
        child.kill()
        child.wait()


def test_runs_held_on_other_hosts_are_judged_by_their_lease(session):
    now = utcnow()
    alive = JobRun(job="pull", status="running", started_at=now, holder="elsewhere:123", summary={},
                   lease_until=now + timedelta(seconds=30))
    dead = JobRun(job="pull", status="running", started_at=now, holder="elsewhere:124", summary={},
                  lease_until=now - timedelta(seconds=1))
    session.add_all([alive, dead])
    session.commit()
    assert sweep_interrupted(session, "pull", None) == 1
    assert (alive.status, dead.status) == ("running", "failed")


def test_a_long_run_of_a_live_process_keeps_its_lease(database, session):
    with recorded_run(session, "sync", lease=timedelta(seconds=0.6)) as run:
        time.sleep(1.5)
        with database.session() as other:
            assert sweep_interrupted(other, "sync", None) == 0
    with database.session() as other:
        assert other.get(JobRun, run.id).lease_until > run.started_at + timedelta(seconds=1)
