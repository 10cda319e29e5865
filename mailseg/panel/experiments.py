"""The Experiments page: each policy's holdout experiment, its verdict in words (benefit and harm),
the interval of every closed cohort drawn as a chart, and the cohorts still running. Reads only:
verdicts are frozen by the scheduler (and `mailseg uplift`) when a cohort's horizon closes."""

from __future__ import annotations

from flask import render_template

from ..experiments.uplift import uplift_report
from ..experiments.words import figures, headline
from ..settings import effective_config
from ..web import config, db_session
from .common import current_audience, panel_blueprint

blueprint = panel_blueprint("experiments", __name__)


@blueprint.get("/experiments")
def index():
    audience = current_audience()
    if audience is None:
        return render_template("experiments.html", audience=None, policies=[], chart={})
    session = db_session()
    settings = effective_config(session, config())
    reports = uplift_report(session, audience.id, settings)
    policies = []
    chart = {}
    for r in reports:
        benefit, harm = headline(r)
        variant = 2 if r.policy == "resend" else 0
        others = [figures(p.metric, p.comparison) for p in r.pooled
                  if p.salt == r.salt and p.variant in (variant,) and p.metric not in (r.benefit, "unsubscribe")]
        versions = [(p.variant, figures(p.metric, p.comparison)) for p in r.pooled
                    if r.policy == "resend" and p.salt == r.salt and p.metric == "open"]
        policies.append({"report": r, "benefit": benefit, "harm": harm, "others": others, "versions": versions})
        chart[r.policy] = [_point(c, r.benefit) for c in r.cohorts if c.metric in (r.benefit, "unsubscribe")
                           and c.comparison.enough and c.variant in (0, 2)]
    return render_template("experiments.html", audience=audience, policies=policies, chart=chart)


def _point(cohort, benefit: str) -> dict:
    c = cohort.comparison
    return {"cohort": cohort.cohort.isoformat(), "metric": "benefit" if cohort.metric == benefit else "harm",
            "diff": round(c.diff * 100, 2), "low": round(c.ci_low * 100, 2), "high": round(c.ci_high * 100, 2)}
