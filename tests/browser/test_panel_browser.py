"""The panel in a real browser: log in, read the dashboard, change a policy, search a subscriber."""

from __future__ import annotations

import pytest
from tests.factories import ADMIN, PASSWORD, seed_audience, seed_users
from shots import screenshot
from sqlalchemy import func, select

from mailseg.models import Subscriber

pytestmark = pytest.mark.browser


@pytest.fixture
def logged_in(page, live_server, session):
    seed_users(session)
    seeded = seed_audience(session)
    page.goto(live_server + "/")
    page.wait_for_url("**/login**")
    screenshot(page, "login")
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live_server + "/")
    return seeded


def test_wrong_password_shows_the_message(page, live_server, session):
    seed_users(session)
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill("not it")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text() == "Wrong email or password."


def test_dashboard_shows_the_database_counts(page, live_server, session, logged_in):
    expected = dict(session.execute(select(Subscriber.engagement_class, func.count()).select_from(Subscriber)
                                    .group_by(Subscriber.engagement_class)).all())
    shown = {}
    for row in page.locator("#class-counts tbody tr").all():
        shown[row.get_attribute("data-class")] = int(row.locator("td").nth(1).inner_text().replace(",", ""))
    assert shown == expected
    page.wait_for_function("() => window.Chart && Chart.getChart('class-chart') !== undefined")
    screenshot(page, "dashboard")


def test_change_a_policy_value_and_see_errors(page, live_server, logged_in):
    page.get_by_role("link", name="Settings").click()
    field = page.get_by_label("Engagement window (months)")
    field.fill("9")
    page.get_by_role("button", name="Save").click()
    assert "Saved: engagement.window_months." in page.get_by_role("status").inner_text()
    assert page.get_by_label("Engagement window (months)").input_value() == "9"
    assert "engagement.window_months" in page.locator("#audit").inner_text()
    page.get_by_label("Engagement window (months)").fill("13")
    page.get_by_role("button", name="Save").click()
    error = page.locator("#engagement-window_months-error")
    assert error.inner_text() == "Must be between 6 and 12, got 13"
    assert page.get_by_label("Engagement window (months)").get_attribute("aria-invalid") == "true"
    screenshot(page, "settings-invalid")


def test_search_a_subscriber_and_open_the_page(page, live_server, logged_in):
    page.get_by_role("link", name="Audience").click()
    screenshot(page, "audience")
    page.get_by_label("Email or name contains").fill("PETRENKO")  # a name, in another case
    page.get_by_role("button", name="Search").click()
    rows = page.locator("#subscribers tbody tr")
    assert rows.count() == 1
    assert page.locator("#result-count").inner_text() == "1 subscriber"
    page.get_by_role("link", name="ivan.petrenko@example.com").click()
    assert page.get_by_role("heading", level=1).inner_text() == "ivan.petrenko@example.com"
    assert "machine/bot" in page.locator("#timeline").inner_text()
    assert page.locator("#why-sentence").inner_text().startswith("Inactive since ")
    screenshot(page, "subscriber")


def test_campaigns_and_sync_pages(page, live_server, logged_in):
    page.get_by_role("link", name="Campaigns").click()
    assert "version 2" in page.locator("#campaigns").inner_text()
    screenshot(page, "campaigns")
    page.get_by_role("link", name="Sync & webhooks").click()
    page.get_by_role("button", name="Dry run").click()
    assert "Dry run queued." in page.get_by_role("status").inner_text()
    assert "dry run requested by" in page.locator("#pending").inner_text()
    screenshot(page, "sync")


def test_no_page_breaks_the_content_security_policy(page, live_server, logged_in):
    """Every panel page under the real CSP (script-src 'self'; style-src 'self'): the browser reports
    no violation, and the dashboard's chart (a static script reading a JSON block) still draws."""
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    for path in ["/", "/audience", "/campaigns", "/settings", "/sync", f"/subscribers/{next(iter(logged_in.ids.values()))}"]:
        page.goto(live_server + path)
        page.wait_for_load_state("networkidle")
    page.goto(live_server + "/")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("() => !!document.querySelector('canvas') && document.querySelector('canvas').width > 0")
    assert violations == []


def test_experiments_page_draws_the_interval_chart(page, live_server, logged_in, session, config):
    from tests.test_experiments_verdicts import CLOSES, offer_cohort

    from mailseg.experiments.uplift import freeze_due

    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    audience_id, _, _ = offer_cohort(session)
    freeze_due(session, audience_id, config, CLOSES)
    page.get_by_role("link", name="Experiments").click()
    page.wait_for_url("**/experiments**")
    if page.locator("select#audience-picker").count():
        page.select_option("select#audience-picker", str(audience_id))
        page.get_by_role("button", name="Show").click()
    assert "points purchases" in page.locator("#exp-offer").locator("..").inner_text()
    canvas = page.locator("canvas.interval-chart-canvas[data-policy='offer']")
    page.wait_for_function("Chart.getChart(document.querySelector(\"canvas[data-policy='offer']\")) !== undefined")
    bars = page.evaluate("Chart.getChart(document.querySelector(\"canvas[data-policy='offer']\")).data.datasets[0].data")
    assert bars == [[bars[0][0], bars[0][1]]] and bars[0][0] < 20 < bars[0][1]  # the benefit's interval
    assert canvas.bounding_box()["height"] > 100
    screenshot(page, "experiments")
    assert errors == []


def test_value_page_draws_its_charts_without_errors(page, live_server, session, logged_in):
    from datetime import timedelta

    from mailseg.config import Config
    from mailseg.models import Audience, utcnow
    from mailseg.value import value_audience
    from tests.factories import simulated_buyers

    audience = session.get(Audience, logged_in.audience_id)
    as_of = utcnow() - timedelta(hours=1)
    simulated_buyers(session, audience, 80, end=as_of)
    value_audience(session, audience.id, Config().value, as_of=as_of - timedelta(days=10))
    value_audience(session, audience.id, Config().value, as_of=as_of)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.get_by_role("link", name="Value").click()
    page.wait_for_selector("#pareto-chart")
    assert page.locator("#rf-heatmap td").count() == 25
    assert page.locator("#segments tbody tr").count() >= 3
    assert page.evaluate("() => !!Chart.getChart(document.getElementById('pareto-chart'))")
    assert page.evaluate("() => !!Chart.getChart(document.getElementById('clv-chart'))")
    screenshot(page, "value")
    page.locator("#top-customers a").first.click()
    assert "Lifetime-value inputs" in page.locator("#value-evidence").inner_text()
    assert errors == []
