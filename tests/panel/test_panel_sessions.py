"""Sessions end on the server: a cookie saved before logout, a password change or a role change no
longer logs anyone in; the login rate limit is atomic across workers; a wrong password costs the
same time whether the account exists or not."""

import threading
import time

from tests.factories import ADMIN, PASSWORD, VIEWER, login
from sqlalchemy import select

from mailseg.accounts import authenticate, set_password, set_role
from mailseg.models import UserSession


def _cookie(client) -> str:
    return client.get_cookie("session").value


def _replay(app, cookie: str) -> int:
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other.get("/audience").status_code


def test_a_cookie_saved_before_logout_no_longer_works(app, client, users, session):
    assert login(client, ADMIN).status_code == 302
    saved = _cookie(client)
    assert _replay(app, saved) == 200
    client.post("/logout")
    assert _replay(app, saved) == 302  # back to the login page
    ended = session.scalars(select(UserSession)).one()
    assert ended.ended_at is not None and ended.end_reason == "logout"


def test_a_password_change_ends_every_session_of_the_user(app, client, users, session):
    assert login(client, VIEWER).status_code == 302
    second = app.test_client()
    assert login(second, VIEWER).status_code == 302
    admin = app.test_client()
    assert login(admin, ADMIN).status_code == 302
    set_password(session, VIEWER, "a brand new password")
    session.commit()
    assert client.get("/audience").status_code == 302 and second.get("/audience").status_code == 302
    assert admin.get("/audience").status_code == 200  # other users keep theirs
    assert login(app.test_client(), VIEWER, "a brand new password").status_code == 302


def test_a_role_change_ends_the_session(client, users, session):
    assert login(client, VIEWER).status_code == 302
    set_role(session, VIEWER, "admin")
    session.commit()
    assert client.get("/audience").status_code == 302


def test_cli_password_and_role_commands(cli, session, users):
    result = cli("users", "role", VIEWER, "admin")
    assert result.exit_code == 0 and "now admin" in result.output
    assert cli("users", "role", "nobody@example.com", "admin").exit_code == 1


def test_parallel_attempts_cannot_race_past_the_limit(database, users):
    """30 attempts at once from one address against a limit of 5: exactly 5 are checked."""
    limit, outcomes, lock = 5, [], threading.Lock()
    barrier = threading.Barrier(30)

    def attempt():
        barrier.wait()
        for _ in range(20):
            try:
                with database.session() as s:
                    result = authenticate(s, ADMIN, "wrong password", address="203.0.113.9",
                                          attempts_per_minute=limit)
                break
            except Exception as exc:  # SQLite: "database is locked" under 30 writers: retry
                if "locked" not in str(exc):
                    raise
                time.sleep(0.05)
        with lock:
            outcomes.append(result.rate_limited)

    threads = [threading.Thread(target=attempt) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count(False) == limit and outcomes.count(True) == 25


def test_a_success_gives_its_attempt_back(session, users):
    for _ in range(10):
        assert authenticate(session, ADMIN, PASSWORD, address="203.0.113.10", attempts_per_minute=2).user
    assert authenticate(session, ADMIN, "wrong", address="203.0.113.10", attempts_per_minute=2).user is None


def test_wrong_password_costs_the_same_with_and_without_an_account(session, users):
    def timed(email: str) -> float:
        best = float("inf")
        for n in range(5):
            start = time.perf_counter()
            authenticate(session, email, "wrong password", address=f"198.51.100.{n}", attempts_per_minute=1000)
            best = min(best, time.perf_counter() - start)
        return best

    existing, missing = timed(ADMIN), timed("nobody@panel.example")
    # Without the dummy hash the missing account answered ~15x faster (9 ms against 150 ms).
    assert missing > existing * 0.5, (existing, missing)
