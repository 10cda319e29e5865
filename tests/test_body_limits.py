"""Every route has a body limit, enforced while the body is read: a 50 MB body, chunked (no
Content-Length) or not, gets 413 and never enters the worker's memory."""

import http.client
import socket

import pytest

from mailseg.app import create_app

SECRET = "hook-secret"
MB = 1024 * 1024


class CountingInput:
    """Wraps wsgi.input and counts what the app reads of it."""

    def __init__(self, app):
        self.app, self.read = app, 0

    def __call__(self, environ, start_response):
        stream, outer = environ["wsgi.input"], self

        class Counted:
            def read(self, *args):
                data = stream.read(*args)
                outer.read += len(data)
                return data

            def readline(self, *args):
                data = stream.readline(*args)
                outer.read += len(data)
                return data

            def __iter__(self):
                return iter(self.readline, b"")

        environ["wsgi.input"] = Counted()
        return self.app(environ, start_response)


@pytest.fixture
def limited_app(config, database):
    config = config.replace(mailchimp={"webhook_secret": SECRET},
                            mandrill={"webhook_key": "k", "webhook_url": "http://x.test/webhooks/mandrill"})
    app = create_app(config, database=database)
    return app


ROUTES = ["/login", f"/webhooks/mailchimp/{SECRET}", "/webhooks/mandrill"]


@pytest.mark.parametrize("path", ROUTES)
def test_a_declared_large_body_is_refused_before_reading(limited_app, path):
    counting = CountingInput(limited_app.wsgi_app)
    limited_app.wsgi_app = counting
    body = b"a=" + b"x" * (50 * MB)
    response = limited_app.test_client().post(path, data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert counting.read == 0


def test_limits_come_from_config_per_route(limited_app):
    client = limited_app.test_client()
    two_mb = b"mandrill_events=" + b"x" * (2 * MB)
    # 2 MB is under Mandrill's 32 MiB (refused for its signature, not its size) and over the others' 1 MiB
    assert client.post("/webhooks/mandrill", data=two_mb, content_type="application/x-www-form-urlencoded").status_code == 403
    assert client.post(f"/webhooks/mailchimp/{SECRET}", data=two_mb,
                       content_type="application/x-www-form-urlencoded").status_code == 413
    assert client.post("/login", data=two_mb, content_type="application/x-www-form-urlencoded").status_code == 413


def _post_chunked(base_url: str, path: str, total: int, chunk: int = 64 * 1024) -> int:
    """POST `total` bytes with Transfer-Encoding: chunked; the status, once the server answers."""
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.putrequest("POST", path)
    conn.putheader("Content-Type", "application/x-www-form-urlencoded")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    piece = b"%x\r\n%s\r\n" % (chunk, b"a" * chunk)
    sent = 0
    try:
        conn.send(b"%x\r\na=\r\n" % 2)
        while sent < total:
            conn.send(piece)
            sent += chunk
        conn.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass  # the server stopped reading: what we want
    try:
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.mark.parametrize("path", ROUTES)
def test_a_chunked_50mb_body_is_cut_off_at_the_limit(limited_app, path):
    from .fakes.server import serving

    counting = CountingInput(limited_app.wsgi_app)
    limited_app.wsgi_app = counting
    limit = 32 * MB if path.endswith("mandrill") else MB
    with serving(limited_app) as url:
        status = _post_chunked(url, path, 50 * MB)
    assert status == 413
    assert counting.read <= limit + 64 * 1024, f"the app read {counting.read} bytes"


def _rss_kb(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_under_gunicorn_a_chunked_50mb_body_never_enters_the_worker(tmp_path, sqlite_template):
    """The production server: 413 for 50 MB chunked to each route, and the worker's memory stays flat."""
    import subprocess

    from .factories import gunicorn_serving

    env = {"MAILSEG_MAILCHIMP_WEBHOOK_SECRET": SECRET, "MAILSEG_MANDRILL_WEBHOOK_KEY": "k",
           "MAILSEG_MANDRILL_WEBHOOK_URL": "http://x.test/webhooks/mandrill"}
    with gunicorn_serving(tmp_path, sqlite_template, env) as (url, _, master):
        worker = int(subprocess.check_output(["pgrep", "-P", str(master.pid)]).split()[0])
        before = _rss_kb(worker)
        for path in ROUTES:
            assert _post_chunked(url, path, 50 * MB) == 413, path
        grown = _rss_kb(worker) - before
    assert grown < 40 * 1024, f"worker RSS grew by {grown} kB"  # the Mandrill limit is 32 MiB
