"""Browser tests: the app served on 127.0.0.1 (a free port, werkzeug in a thread) and Debian's
chromium driven by Playwright. Never `playwright install`: scripts/test installs chromium with apt."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from shots import VIEWPORTS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic"]


@pytest.fixture(params=["sqlite"])
def db_url(request, tmp_path, sqlite_template) -> str:
    """SQLite only: the pages' queries are covered on both databases by the test-client tests."""
    import shutil

    path = tmp_path / "mailseg.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium` (scripts/test does as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_server(app):
    """The app on http://127.0.0.1:<free port> for the duration of a test."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=VIEWPORTS["laptop"])
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
