"""Every panel page at 1366×900 and 390×844 in English, Ukrainian, Russian and Chinese: a
screenshot of each (test-artifacts/screenshots/layout-*), and a programmatic check that nothing
overflows the viewport (a table may scroll only inside its own box), that controls are labelled
and touch targets are at least 44 px."""

from __future__ import annotations

import pytest
from tests.factories import ADMIN, PASSWORD, seed_audience, seed_users
from shots import SCREENSHOTS, VIEWPORTS

pytestmark = pytest.mark.browser

LANGUAGES = {"en": "en-GB", "uk": "uk-UA", "ru": "ru-RU", "zh": "zh-CN"}

# Elements wider than the viewport, ignoring what sits inside a box that clips or scrolls it.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') return true;
    }
    return false;
  };
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= width + 1 || clipped(el)) continue;
    bad.push(`${el.tagName.toLowerCase()}#${el.id}.${el.className} right=${Math.round(r.right)}`);
  }
  return {page: document.documentElement.scrollWidth, width, bad: bad.slice(0, 8)};
}"""

# Visible controls without a label, and controls smaller than 44 px in either direction.
CONTROLS = """() => {
  const out = {unlabelled: [], small: []};
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea, button, .button, nav a')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || getComputedStyle(el).visibility === 'hidden') continue;
    const named = el.labels && el.labels.length || el.getAttribute('aria-label') || (el.textContent || '').trim();
    if (!named) out.unlabelled.push(el.outerHTML.slice(0, 80));
    const small = (el.type === 'checkbox' || el.type === 'radio') ? (r.height < 24) : (r.height < 43.5 || r.width < 43.5);
    if (small) out.small.push(`${el.outerHTML.slice(0, 60)} ${Math.round(r.width)}x${Math.round(r.height)}`);
  }
  return out;
}"""


@pytest.fixture
def pages(live_server, session):
    seed_users(session)
    seeded = seed_audience(session)
    ivan = seeded.ids["ivan.petrenko@example.com"]
    return {"login": "/login", "dashboard": "/", "audience": "/audience", "search": "/audience?q=petrenko",
            "by-activity": "/audience?sort=-activity&class=active",
            "subscriber": f"/subscribers/{ivan}", "campaigns": "/campaigns", "settings": "/settings",
            "sync": "/sync", "not-found": "/subscribers/999999", "value": "/value", "segments": "/segments",
            "surveys": "/surveys", "experiments": "/experiments"}


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_every_page_fits_both_widths(browser, live_server, pages, language):
    context = browser.new_context(viewport=VIEWPORTS["laptop"], locale=LANGUAGES[language])
    page = context.new_page()
    page.set_default_timeout(10_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    try:
        for name, path in pages.items():
            if name == "dashboard":  # log in once the login page has been looked at
                page.locator("#email").fill(ADMIN)
                page.locator("#password").fill(PASSWORD)
                page.locator("form[novalidate] button[type=submit]").click()
                page.wait_for_url(live_server + "/")
            page.goto(live_server + path)
            assert page.locator("html").get_attribute("lang") == language
            for label, size in VIEWPORTS.items():
                page.set_viewport_size(size)
                page.screenshot(path=str(SCREENSHOTS / f"layout-{name}-{language}-{label}.png"), full_page=True)
                found = page.evaluate(OVERFLOW)
                if found["page"] > found["width"] or found["bad"]:
                    problems.append(f"{name} {label}: page {found['page']}px in {found['width']}px: {found['bad']}")
                controls = page.evaluate(CONTROLS)
                if controls["unlabelled"] or (label == "phone" and controls["small"]):
                    problems.append(f"{name} {label}: {controls}")
            page.set_viewport_size(VIEWPORTS["laptop"])
    finally:
        context.close()
    assert problems == []


def test_keyboard_focus_is_visible(page, live_server, pages):
    page.goto(live_server + "/login")
    page.keyboard.press("Tab")  # the skip link
    page.keyboard.press("Tab")
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")
