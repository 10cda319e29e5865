"""The Experiments page: verdicts in words with benefit and harm, the interval data for the chart
(no inline script), running cohorts, and the simulated-audience banner on the sandbox."""

from __future__ import annotations

import json
import re

from mailseg.experiments.uplift import freeze_due

from tests.factories import make_event, make_exposures, make_subscriber, utc
from tests.test_experiments_verdicts import CLOSES, offer_cohort


def test_experiments_page_shows_verdicts_and_intervals(viewer, session, config):
    audience_id, treated, held = offer_cohort(session)
    freeze_due(session, audience_id, config, CLOSES)
    page = viewer.get("/experiments").get_data(as_text=True)
    # purchases: 10 of 40 treated against 2 of 40 held out = +20.0 points
    assert re.search(r"\+20\.0 points purchases</strong>\s*\(95% CI \+\d", page)
    assert "40 treated vs 40 held out" in page and "Harm" in page
    data = json.loads(re.search(r'<script type="application/json" id="experiment-intervals">(.*?)</script>',
                                page, re.S).group(1))
    assert [(p["cohort"], p["metric"], p["diff"]) for p in data["offer"]] == [
        ("2026-08-03", "benefit", 20.0), ("2026-08-03", "harm", 0.0)]
    assert not re.search(r"<script>(?!\s*</script>)", page)  # scripts come from static files only
    assert "Simulated audience" not in page


def test_running_cohorts_say_not_enough_data_yet(viewer, session):
    from tests.factories import make_audience

    audience = make_audience(session)
    people = [make_subscriber(session, audience, f"p{i}@x.org").id for i in range(12)]
    make_exposures(session, audience.id, "resend", "resend:c1:v2", utc(2030, 1, 7, 10), people[:10], held=False,
                   variant=2)
    make_exposures(session, audience.id, "resend", "resend:c1:v2", utc(2030, 1, 7, 10), people[10:], held=True,
                   variant=2)
    make_event(session, people[0], "open", utc(2030, 1, 8))
    session.commit()
    page = viewer.get("/experiments").get_data(as_text=True)
    assert "not enough data yet" in page and "10 treated vs 2 held out" in page
    assert "verdict on Jan 21, 2030" in page  # the date in the page's locale (English here)


def test_the_sandbox_shows_the_simulated_audience_banner(config, database, users):
    from mailseg.app import create_app

    from tests.factories import ADMIN, login

    app = create_app(config.replace(platform={"kind": "sandbox"}), database=database)
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    client = app.test_client()
    login(client, ADMIN)
    assert "Simulated audience" in client.get("/experiments").get_data(as_text=True)
    assert "Simulated audience" in client.get("/").get_data(as_text=True)
