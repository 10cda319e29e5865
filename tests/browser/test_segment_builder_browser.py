"""The segment builder in a real browser: build a rule without JSON, see the live count, save, see the members."""

from __future__ import annotations

import pytest
from tests.factories import ADMIN, PASSWORD, seed_audience, seed_users
from shots import screenshot

pytestmark = pytest.mark.browser


def test_build_a_rule_see_the_count_save_and_see_members(page, live_server, session):
    seed_users(session)
    seed_audience(session)
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live_server + "/")
    page.get_by_role("link", name="Segments").click()
    page.get_by_role("link", name="New segment").click()
    count = page.locator("#live-count")
    page.wait_for_selector('#live-count[data-count="5"]')  # the starting rule: status = subscribed
    page.get_by_role("button", name="Add condition").first.click()
    page.get_by_label("Field").nth(1).select_option("engagement_class")
    page.get_by_label("Operator").nth(1).select_option("=")
    page.get_by_label("Value").nth(1).fill("active")
    page.wait_for_selector('#live-count[data-count="2"]')
    assert "2 subscribers match" in count.inner_text()
    assert "anna.kovalenko@example.com" in count.inner_text()
    page.locator("#json-view summary").click()
    assert '"value": "active"' in page.locator("#rule-json").input_value()
    screenshot(page, "segment-builder")
    page.get_by_label("Name", exact=True).fill("active-readers")
    page.get_by_role("button", name="Save and evaluate").click()
    page.wait_for_url("**/segments/active-readers")
    assert page.locator("#member-count").inner_text() == "2"
    members = page.locator("#members tbody tr")
    assert members.count() == 2
    assert "olena.bondar@example.com" in page.locator("#members").inner_text()
    screenshot(page, "segment")
