"""Accounts: login required, roles, CSRF, rate limiting, the users command."""

import re

import pytest
from tests.factories import ADMIN, PASSWORD, login

from mailseg.accounts import AccountError, create_user
from mailseg.models import LoginAttempt, User

PAGES = ["/", "/audience", "/audience/export.csv", "/subscribers/1", "/campaigns", "/settings", "/sync"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_needs_a_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")


def test_health_check_stays_open(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_login_and_logout(client, users):
    assert b"Log in" in client.get("/login").data
    response = login(client, ADMIN)
    assert response.status_code == 302 and response.location == "/"
    assert ADMIN.encode() in client.get("/").data
    client.post("/logout")
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused(client, users):
    response = login(client, ADMIN, "not the password")
    assert response.status_code == 401
    assert b"Wrong email or password" in response.data
    assert client.get("/").status_code == 302


def test_login_redirects_only_to_this_site(client, users):
    response = client.post("/login?next=https://evil.example/x", data={"email": ADMIN, "password": PASSWORD})
    assert response.location == "/"
    response = client.post("/login?next=/campaigns", data={"email": ADMIN, "password": PASSWORD})
    assert response.location == "/campaigns"


def test_failed_logins_are_rate_limited_per_address(client, users, config, session):
    limit = config.web.login_attempts_per_minute
    for _ in range(limit):
        assert login(client, ADMIN, "wrong").status_code == 401
    # Even the right password is refused while the address is over the limit.
    response = login(client, ADMIN)
    assert response.status_code == 429
    assert b"Too many failed attempts" in response.data
    assert session.query(LoginAttempt).count() == limit
    other = client.post("/login", data={"email": ADMIN, "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert other.status_code == 302


def test_viewer_cannot_change_settings_or_queue_jobs(viewer):
    assert viewer.post("/settings", data={"engagement.window_months": "9"}).status_code == 403
    assert viewer.post("/sync/requests", data={"mode": "sync"}).status_code == 403
    page = viewer.get("/settings").data
    assert b"only an admin can change them" in page
    assert b"<fieldset disabled>" in page


def test_posts_without_a_csrf_token_are_rejected(app, client, users):
    app.config["WTF_CSRF_ENABLED"] = True
    assert login(client, ADMIN).status_code == 400  # the login form itself is protected
    page = client.get("/login").data.decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"email": ADMIN, "password": PASSWORD, "csrf_token": token}).status_code == 302
    assert client.post("/settings", data={"engagement.window_months": "9"}).status_code == 400
    assert client.post("/sync/requests", data={"mode": "sync"}).status_code == 400
    assert client.post("/campaigns/c1/resend", data={"mode": "off"}).status_code == 400
    assert client.post("/logout").status_code == 400
    settings_page = client.get("/settings").data.decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', settings_page).group(1)
    response = client.post("/settings", data={"engagement.window_months": "9", "csrf_token": token,
                                              "engagement.active_min_clicks": "1", "engagement.semi_active_min_opens": "1"})
    assert response.status_code == 302


def test_users_add_and_ensure_demo(config, database, session, client):
    from click.testing import CliRunner

    from mailseg.cli import main
    from mailseg.cli.runtime import Runtime

    def run(args, stdin=None):
        return CliRunner().invoke(main, args, input=stdin, obj=Runtime(_config=config, _database=database))

    result = run(["users", "add", "Boss@Example.com", "--role", "admin"], "a long password\na long password\n")
    assert result.exit_code == 0, result.output
    assert "created admin boss@example.com" in result.output
    user = session.query(User).filter_by(email="boss@example.com").one()
    assert user.role == "admin" and "a long password" not in user.password_hash
    mismatch = run(["users", "add", "x@example.com"], "first password\nsecond password\nfirst password\nfirst password\n")
    assert "do not match" in mismatch.output
    assert run(["users", "add", "y@example.com", "--password-stdin"], "short\n").exit_code == 1
    assert run(["users", "add", "boss@example.com", "--password-stdin"], "another password\n").exit_code == 1
    first = run(["users", "ensure-demo"])
    password = re.search(r"password (\S+)", first.output).group(1)
    again = run(["users", "ensure-demo"])
    assert "already exists" in again.output and password not in again.output
    assert login(client, "admin@demo.example", password).status_code == 302


def test_ensure_demo_with_a_known_password_prints_working_credentials(config, database, client, monkeypatch):
    from click.testing import CliRunner

    from mailseg.cli import main
    from mailseg.cli.runtime import Runtime

    def run(*args):
        return CliRunner().invoke(main, list(args), obj=Runtime(_config=config, _database=database))

    assert "is empty or not set" in run("users", "ensure-demo", "--password-env", "DEMO_PW").output
    monkeypatch.setenv("DEMO_PW", "first demo password")
    assert "with password first demo password" in run("users", "ensure-demo", "--password-env", "DEMO_PW").output
    monkeypatch.setenv("DEMO_PW", "second demo password")
    again = run("users", "ensure-demo", "--password-env", "DEMO_PW")
    assert "log in as admin@demo.example with password second demo password" in again.output
    assert login(client, "admin@demo.example", "second demo password").status_code == 302


def test_create_user_rules(session):
    with pytest.raises(AccountError, match="role"):
        create_user(session, "a@example.com", "long enough pw", "owner")
    with pytest.raises(AccountError, match="not an email"):
        create_user(session, "nobody", "long enough pw")


@pytest.mark.parametrize("peer, forwarded, recorded", [
    ("10.1.2.3", "203.0.113.9", "203.0.113.9"),          # a trusted proxy (a network, as for tracking)
    ("10.1.2.3", "203.0.113.9, 10.4.4.4", "203.0.113.9"),  # trusted hops on the right are skipped
    ("198.51.100.7", "203.0.113.9", "198.51.100.7"),     # an untrusted peer's header is not believed
    ("10.1.2.3", "not-an-ip", "10.1.2.3"),               # a garbled header: the proxy itself
])
def test_the_panel_reads_the_client_address_by_the_tracking_rule(app, users, session, peer, forwarded, recorded):
    """One client-address rule (web/client_ip.py) for the panel and the tracking endpoints."""
    from sqlalchemy import select

    app.extensions["mailseg.config"] = app.extensions["mailseg.config"].replace(web={"trusted_proxies": ["10.0.0.0/8"]})
    client = app.test_client()
    client.post("/login", data={"email": ADMIN, "password": "wrong"},
                environ_base={"REMOTE_ADDR": peer}, headers={"X-Forwarded-For": forwarded})
    assert session.scalars(select(LoginAttempt.address)).all() == [recorded]
