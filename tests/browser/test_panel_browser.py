"""The panel in a real browser: log in, read the dashboard, change a policy, search a subscriber."""

from __future__ import annotations

import pytest
from seed import ADMIN, PASSWORD, seed_audience, seed_users
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
    expected = dict(session.execute(select(Subscriber.engagement_class, func.count())
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
