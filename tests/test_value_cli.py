"""`mailseg value`, `mailseg export values|value-model` and the value lines of `mailseg explain`."""

import csv
import io
import json

from mailseg.models import JobRun

from .factories import make_audience, make_order, make_subscriber, simulated_buyers, utc

AS_OF = "2026-08-31T12:00:00Z"


def small_audience(session):
    audience = make_audience(session)
    make_subscriber(session, audience, "anna@example.com")
    make_subscriber(session, audience, "li@example.com")
    make_subscriber(session, audience, "never@example.com")
    make_order(session, audience, "anna@example.com", utc(2026, 8, 1), 120, order_id="A1")
    make_order(session, audience, "anna@example.com", utc(2026, 8, 20), 80, order_id="A2")
    make_order(session, audience, "li@example.com", utc(2026, 2, 1), 30, order_id="L1")
    make_order(session, audience, "li@example.com", utc(2026, 3, 1), 30, order_id="L2", status="refunded")
    session.commit()
    return audience


def test_value_command_prints_the_summary_and_says_why_there_is_no_clv(cli, session):
    small_audience(session)
    result = cli("value", "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    assert "2 customer(s)" in result.output
    assert "lifetime value: not computed (too little data: 2 repeat customer(s)" not in result.output
    assert "lifetime value: not computed (too little data: 1 repeat customer(s), value.min_repeat_customers is 30)" \
        in result.output
    assert "RFM segment" in result.output and "prospect" in result.output
    run = session.query(JobRun).filter_by(job="value").one()
    assert run.status == "succeeded" and run.summary["model_reason"].startswith("too little data")


def test_the_summary_says_how_the_order_totals_were_brought_up_to_date(cli, session):
    audience = small_audience(session)
    first = cli("value", "--as-of", AS_OF)
    assert "order totals: built from all orders (2 subscriber(s) with orders)" in first.output, first.output
    make_order(session, audience, "never@example.com", utc(2026, 8, 30), 15, order_id="N1")
    session.commit()
    routine = cli("value", "--as-of", AS_OF)
    assert "order totals: 1 subscriber(s) with changed orders summed again" in routine.output, routine.output
    assert "3 customer(s)" in routine.output
    rebuilt = cli("value", "--as-of", AS_OF, "--rebuild-totals")
    assert "order totals: built from all orders (3 subscriber(s) with orders)" in rebuilt.output, rebuilt.output
    assert "0 value row(s) written" in rebuilt.output


def test_export_values_has_every_column_and_empty_cells_where_not_applicable(cli, session, tmp_path):
    small_audience(session)
    cli("value", "--as-of", AS_OF)
    out = tmp_path / "values.csv"
    result = cli("export", "values", "--output", out)
    assert result.exit_code == 0 and "exported 3" in result.output
    rows = {row["email"]: row for row in csv.DictReader(io.StringIO(out.read_text()))}
    assert list(rows["anna@example.com"]) == ["email", "frequency", "monetary", "recency_days", "r_score", "f_score",
                                              "m_score", "rfm_segment", "abc_class", "p_alive", "expected_orders",
                                              "expected_order_value", "clv", "quadrant"]
    anna = rows["anna@example.com"]
    assert (anna["frequency"], anna["monetary"], anna["recency_days"], anna["abc_class"]) == ("2", "200.00", "11", "A")
    never = rows["never@example.com"]
    assert never["rfm_segment"] == "prospect" and never["r_score"] == "" and never["clv"] == ""
    as_json = json.loads(cli("export", "values", "--format", "json").stdout)
    assert {row["email"]: row["frequency"] for row in as_json}["li@example.com"] == 1


def test_export_value_model_before_and_after_a_fit(cli, session):
    audience = make_audience(session)
    session.commit()
    missing = cli("export", "value-model")
    assert missing.exit_code == 1 and "no lifetime-value model" in missing.output
    simulated_buyers(session, audience, 80, end=utc(2026, 8, 31))
    assert cli("value", "--as-of", AS_OF).exit_code == 0
    document = json.loads(cli("export", "value-model", "--format", "json").stdout)
    assert set(document["bgnbd"]) == {"r", "alpha", "a", "b", "log_likelihood"}
    assert set(document["gamma_gamma"]) >= {"p", "q", "gamma"}
    assert document["customers"] == 80 and document["as_of"].startswith("2026-08-31T12:00:00")


def test_explain_as_of_shows_the_value_at_that_moment_not_the_stored_one(cli, session):
    audience = small_audience(session)
    cli("value", "--as-of", AS_OF)
    make_order(session, audience, "anna@example.com", utc(2026, 9, 10), 500, order_id="A3")
    session.commit()
    cli("value", "--as-of", "2026-09-30T12:00:00Z")  # stored values now count three orders
    now = cli("explain", "anna@example.com").output
    assert "orders in the lookback: 3, revenue 700.00" in now
    then = cli("explain", "anna@example.com", "--as-of", AS_OF).output
    assert "value as of 2026-08-31T12:00:00" in then
    assert "orders in the lookback: 2, revenue 200.00, last 11 day(s) before" in then
    assert "R score 3: 11 (customers scoring 3 have 11 to 11)" in then
    assert "RFM segment: loyal (rule loyal R3-5 F3-5 M3-5)" in then
    assert "ABC class A: customers before hold 0.0% of the revenue, 87.0% with this one" in then
    assert "x=1 repeat day(s), t_x=2.71 weeks, T=4.29 weeks" in then
    assert "A3" not in then and "500" not in then
    before_any = cli("explain", "anna@example.com", "--as-of", "2026-07-01T00:00:00Z").output
    assert "orders in the lookback: 0" in before_any and "RFM segment: prospect" in before_any


def test_explain_shows_the_value_evidence(cli, session):
    small_audience(session)
    before = cli("explain", "anna@example.com")
    assert "value: not computed yet" in before.output
    cli("value", "--as-of", AS_OF)
    output = cli("explain", "anna@example.com").output
    assert "orders in the lookback: 2, revenue 200.00, last 11 day(s) before" in output
    assert "R score 3: 11 (customers scoring 3 have 11 to 11)" in output
    assert "RFM segment: loyal (rule loyal R3-5 F3-5 M3-5)" in output
    assert "ABC class A: customers before hold 0.0% of the revenue, 87.0% with this one" in output
    assert "x=1 repeat day(s), t_x=2.71 weeks, T=4.29 weeks" in output
