"""`mailseg value`, `mailseg export values|value-model`, and the value part of `mailseg explain`."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ..audiences import find_audience
from ..progress import progress
from ..timeutil import isoformat_utc
from ..value import VALUE_STEPS, ValueResult, value_audience
from ..value.explain import ValueExplanation
from ..value.export import VALUE_EXPORT_COLUMNS, value_model_document, value_rows
from .data import _export, _export_options, _open_output, audience_option, export_group
from .params import as_of_option
from .runtime import Runtime, fails_cleanly, pass_runtime


@click.command("value")
@audience_option
@as_of_option("Value as of this ISO-8601 moment (a bare date is 00:00 UTC; default: now).")
@click.option("--rebuild-totals", is_flag=True,
              help="Sum the kept order totals again from all the audience's orders (after orders were written "
                   "into the database other than through mailseg).")
@pass_runtime
@fails_cleanly
def value(rt: Runtime, audience: str | None, as_of: datetime | None, rebuild_totals: bool) -> None:
    """Compute every subscriber's value: RFM, ABC, lifetime value and quadrant, with history."""
    with rt.migrated_db().session() as session:
        audience_row = find_audience(session, audience)
        with progress(f"valuing {audience_row.name}", VALUE_STEPS) as bar:
            result = value_audience(session, audience_row.id, rt.settings(session).value, as_of=as_of, progress=bar,
                                    rebuild_totals=rebuild_totals)
    for line in summary_lines(audience_row.name, result):
        click.echo(line)
    _print_counts(result)


def summary_lines(name: str, result: ValueResult) -> list[str]:
    lines = [f"{name} as of {isoformat_utc(result.as_of)} (orders from {isoformat_utc(result.window_start)}, excluded): "
             f"{result.customers} customer(s), run {result.run_id}"]
    totals = result.totals
    if totals:
        lines.append(f"order totals: built from all orders ({totals['subscribers']} subscriber(s) with orders)"
                     if totals["rebuilt"] else f"order totals: {totals['subscribers']} subscriber(s) with changed orders "
                     "summed again")
    model = result.model
    if result.model_fitted:
        lines.append("lifetime value: model fitted in this run")
    elif model is not None:
        lines.append(f"lifetime value: no new model ({result.model_reason}); kept the model fitted as of {model['as_of']}")
    else:
        lines.append(f"lifetime value: not computed ({result.model_reason})")
    if model is not None:
        b, g = model["bgnbd"], model["gamma_gamma"]
        lines.append(f"  BG/NBD r={b['r']:.4f} alpha={b['alpha']:.4f} a={b['a']:.4f} b={b['b']:.4f} "
                     f"log-likelihood={b['log_likelihood']:.2f}")
        lines.append(f"  Gamma-Gamma p={g['p']:.4f} q={g['q']:.4f} gamma={g['gamma']:.4f} "
                     f"log-likelihood={g['log_likelihood']:.2f} ({model['customers']} customers, "
                     f"{model['repeat_customers']} repeat)")
    if result.profitable_clv is not None:
        lines.append(f"  profitable from CLV {result.profitable_clv:.2f}")
    changes = ", ".join(f"{family} {n}" for family, n in result.changes.items())
    lines.append(f"changes recorded: {changes}; {result.rows_written} value row(s) written")
    return lines


def _print_counts(result: ValueResult) -> None:
    console = Console(file=sys.stdout, width=100)
    for title, counts in (("RFM segment", result.segments), ("ABC class", result.abc), ("quadrant", result.quadrants)):
        if not counts:
            continue
        table = Table(title=title)
        table.add_column(title)
        table.add_column("subscribers", justify="right")
        for name, count in counts.items():
            table.add_row(name, str(count))
        console.print(table)


@export_group.command("values")
@_export_options
@pass_runtime
@fails_cleanly
def export_values(rt: Runtime, audience: str | None, fmt: str, output: Path | None) -> None:
    """Values: email, frequency, monetary, recency_days, R/F/M scores, rfm_segment, abc_class, p_alive,
    expected_orders, expected_order_value, clv, quadrant (empty where not applicable)."""
    _export(rt, audience, fmt, output, value_rows, lambda *_: VALUE_EXPORT_COLUMNS, "subscribers' values")


@export_group.command("value-model")
@click.option("--format", "fmt", type=click.Choice(["json"]), default="json", show_default=True,
              help="Output format (JSON only: the fitted parameters as one document).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File (default: standard output).")
@audience_option
@pass_runtime
@fails_cleanly
def export_value_model(rt: Runtime, fmt: str, output: Path | None, audience: str | None) -> None:
    """The fitted lifetime-value model: BG/NBD and Gamma-Gamma parameters, customers, as_of."""
    with rt.migrated_db().session() as session, _open_output(output) as out:
        document = value_model_document(session, find_audience(session, audience).id)
        if document is None:
            click.echo("error: no lifetime-value model has been fitted for this audience yet (run `mailseg value`)",
                       err=True)
            sys.exit(1)
        out.write(json.dumps(document, indent=2) + "\n")


def value_explanation_lines(ex: ValueExplanation) -> list[str]:
    """The value part of `mailseg explain`."""
    if ex.as_of is None:
        return ["  value: not computed yet (run `mailseg value`)"]
    lines = [f"  value as of {isoformat_utc(ex.as_of)} (orders after {isoformat_utc(ex.lookback_start)}):",
             f"    orders in the lookback: {ex.frequency}, revenue {ex.monetary}, "
             f"last {'-' if ex.recency_days is None else str(ex.recency_days) + ' day(s) before'}"]
    for s in ex.scores:
        lines.append(f"    {s.letter} score {s.score}: {s.value:g} (customers scoring {s.score} have {s.low:g} to {s.high:g})")
    lines.append(f"    RFM segment: {ex.rfm_segment}" + (f" (rule {ex.segment_rule})" if ex.segment_rule else ""))
    if ex.abc_class:
        lines.append(f"    ABC class {ex.abc_class}: customers before hold {ex.abc_share_before:.1%} of the revenue, "
                     f"{ex.abc_share_after:.1%} with this one")
    if ex.t_weeks is not None:
        lines.append(f"    lifetime-value inputs: x={ex.repeat_days} repeat day(s), t_x={ex.t_x_weeks:.2f} weeks, "
                     f"T={ex.t_weeks:.2f} weeks, margin rate {ex.margin_rate:.2f}")
    if ex.clv is not None:
        lines.append(f"    p_alive {ex.p_alive:.3f}, expected orders {ex.expected_orders:.2f}, "
                     f"expected order value {ex.expected_order_value:.2f}, CLV {ex.clv:.2f}")
    elif ex.t_weeks is not None:
        lines.append("    CLV: not computed (no model fitted yet: see `mailseg runs`)")
    if ex.quadrant:
        lines.append(f"    quadrant: {ex.quadrant} — {ex.quadrant_action}")
    return lines
