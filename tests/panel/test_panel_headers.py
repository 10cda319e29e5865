"""Security headers on panel pages and the rest; templates without inline scripts or styles, so
the CSP needs no 'unsafe-inline'."""

import re
from pathlib import Path

import pytest

from mailseg.app import create_app

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
PAGES = ["/", "/audience", "/campaigns", "/settings", "/sync", "/subscribers/{first}"]


@pytest.mark.parametrize("path", PAGES + ["/login"])
def test_panel_pages_have_the_security_headers(admin, seeded, path):
    path = path.format(first=next(iter(seeded.ids.values())))  # subscriber ids are keys, not 1, 2, ...
    response = admin.get(path) if path != "/login" else admin.application.test_client().get(path)
    assert response.status_code == 200
    h = response.headers
    assert "script-src 'self'" in h["Content-Security-Policy"] and "style-src 'self'" in h["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in h["Content-Security-Policy"] and "unsafe-inline" not in h["Content-Security-Policy"]
    assert h["X-Frame-Options"] == "DENY" and h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "same-origin" and h["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in h


def test_static_files_stay_cacheable_and_tracking_sends_no_referrer(client):
    response = client.get("/static/mailseg.css")
    assert response.status_code == 200 and response.headers.get("Cache-Control") != "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/t/c/garbage").headers["Referrer-Policy"] == "no-referrer"


def test_hsts_when_cookies_are_secure(config, database):
    app = create_app(config.replace(web={"secure_cookies": True}), database=database)
    response = app.test_client().get("/login")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_templates_have_no_inline_scripts_styles_or_handlers():
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        for script in re.findall(r"<script\b([^>]*)>(.*?)</script>", text, re.S):
            attributes, body = script
            assert "src=" in attributes or 'type="application/json"' in attributes, (template.name, script)
            assert "src=" not in attributes or not body.strip(), template.name
        assert not re.search(r"<style\b", text), template.name
        assert not re.search(r"\sstyle\s*=", text), template.name
        assert not re.search(r"\son[a-z]+\s*=", text), template.name
