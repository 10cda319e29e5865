"""Two real `mailseg scheduler` processes against one database: one runs the jobs, the other waits
as a hot standby and takes over when the first stops (gracefully or killed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from mailseg.models import JobRun

from .factories import make_audience, make_subscriber


def start_scheduler(config_path: Path, log_path: Path) -> subprocess.Popen:
    env = {**os.environ, "MAILSEG_CONFIG": str(config_path)}
    return subprocess.Popen([sys.executable, "-m", "mailseg", "scheduler"], env=env,
                            stdout=log_path.open("w"), stderr=subprocess.STDOUT)


# Generous: on a loaded 2-core machine a scheduler process may take many seconds to start or to
# notice an expired lease. Waiting longer proves the same things, it only fails later when wrong.
WAIT = 90.0
# The lease tolerates a stalled leader for LEASE - LEASE/3 seconds (it renews every third): 2 s left
# a loaded machine ~1.3 s, so a live leader could lose its lease and two schedulers claim to be active.
LEASE = 6


def wait_for(predicate, timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def classify_runs(database) -> list[JobRun]:
    with database.session() as session:
        return list(session.scalars(select(JobRun).where(JobRun.job == "classify").order_by(JobRun.started_at)))


def is_active(log: Path) -> bool:
    return "is the active scheduler" in log.read_text()


def test_two_schedulers_run_each_job_once_and_hand_over(db_url, database, session, tmp_path):
    audience = make_audience(session)
    make_subscriber(session, audience, "a@example.com")
    session.commit()
    config = tmp_path / "mailseg.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n[scheduler]\nclassify_schedule = "every 1 seconds"\n'
                      f'pull_schedule = "0 0 1 1 *"\nsync_schedule = "0 0 1 1 *"\nlease_seconds = {LEASE}\n'
                      'standby_poll_seconds = 1\n')
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = [start_scheduler(config, logs[0]), start_scheduler(config, logs[1])]
    try:
        assert wait_for(lambda: any(is_active(log) for log in logs)), [log.read_text() for log in logs]
        assert wait_for(lambda: len(classify_runs(database)) >= 3)
        active = [i for i, log in enumerate(logs) if is_active(log)]
        assert len(active) == 1, "exactly one scheduler is active"
        leader, standby = active[0], 1 - active[0]

        procs[leader].send_signal(signal.SIGKILL)  # the leader dies without releasing anything
        procs[leader].wait(10)
        before = len(classify_runs(database))
        assert wait_for(lambda: is_active(logs[standby])), logs[standby].read_text()
        assert wait_for(lambda: len(classify_runs(database)) >= before + 2)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
    runs = [run for run in classify_runs(database) if run.status != "running" or run.finished_at]
    # the run the killed leader was in the middle of (if any) is marked failed when the next one starts
    interrupted = [run for run in runs if run.status == "failed" and run.error.startswith("interrupted")]
    assert len(interrupted) <= 1
    runs = [run for run in runs if run not in interrupted]
    assert all(run.status == "succeeded" for run in runs), [(r.status, r.error) for r in runs]
    for earlier, later in zip(runs, runs[1:]):
        assert later.started_at >= earlier.finished_at, "two classify runs overlapped"
    assert procs[standby].returncode == 0  # SIGTERM stops a scheduler cleanly
    assert "stopped" in logs[standby].read_text()
