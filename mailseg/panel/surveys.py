"""Surveys (answers, NPS and CSI per quarter, splits, answer links) and sign-up forms (built here,
with the hosted page's address and the embeddable snippet) in the panel."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..forms import FormNotFound, choices_text, form_snippet, get_form, list_forms, parse_choices, save_form
from ..segments import RuleError
from ..surveys import SurveyNotFound, add_survey, get_survey, list_surveys, mailchimp_links, survey_report
from ..web import config, db_session
from .common import admin_required, current_audience, panel_blueprint

blueprint = panel_blueprint("surveys", __name__)


def _audience():
    audience = current_audience()
    if audience is None:
        abort(404, description=_("There is no audience yet."))
    return audience


def _base_url() -> str:
    from flask import request

    from ..tracking.rewrite import public_base_url

    return public_base_url(config(), request.host_url)


@blueprint.get("/surveys")
def index():
    audience = current_audience()
    session = db_session()
    surveys = list_surveys(session, audience.id) if audience else []
    reports = {s.name: survey_report(session, s) for s in surveys}
    forms = list_forms(session, audience.id) if audience else []
    return render_template("surveys.html", audience=audience, surveys=surveys, reports=reports, forms=forms,
                           snippets=_snippets(forms), base_url=_base_url(), values={}, errors=[])


def _snippets(forms) -> dict[str, str]:
    return {f.name: form_snippet(_base_url(), f) for f in forms}


@blueprint.post("/surveys")
@admin_required
def create():
    audience = _audience()
    form = request.form
    answers = None if form.get("kind") == "scale" else [a for a in form.get("answers", "").splitlines() if a.strip()]
    session = db_session()
    try:
        add_survey(session, audience.id, form.get("name", "").strip(), form.get("question", ""), answers,
                   sync=form.get("sync") == "on")
    except RuleError as exc:
        session.rollback()
        surveys, forms = list_surveys(session, audience.id), list_forms(session, audience.id)
        return render_template("surveys.html", audience=audience, surveys=surveys,
                               reports={s.name: survey_report(session, s) for s in surveys},
                               forms=forms, snippets=_snippets(forms), base_url=_base_url(), values=form,
                               errors=exc.errors), 400
    session.commit()
    flash(_("Survey %(name)s created.", name=form.get("name")))
    return redirect(url_for("surveys.show", name=form.get("name", "").strip()))


@blueprint.get("/surveys/<name>")
def show(name: str):
    audience = _audience()
    try:
        survey = get_survey(db_session(), audience.id, name)
    except SurveyNotFound as exc:
        abort(404, description=str(exc))
    report = survey_report(db_session(), survey)
    quarters = list(report.quarters)
    trend = {"labels": quarters, "nps": [report.quarter_scores[q].nps for q in quarters] if report.quarter_scores else [],
             "csi": [report.quarter_scores[q].csi for q in quarters] if report.quarter_scores else [],
             "answers": {a: [report.quarters[q].get(a, 0) for q in quarters] for a in report.answers},
             "nps_label": _("NPS"), "csi_label": _("CSI (8-10 / 1-3)"),
             # NPS per quarter of each class (the class when answering); null where nobody of it answered
             "nps_by_class": {group: [getattr(report.by_class[q].get(group), "nps", None) for q in quarters]
                              for group in report.split_groups("by_class")} if report.quarter_scores else {}}
    return render_template("survey.html", survey=survey, report=report, trend=trend,
                           links=mailchimp_links(_base_url(), survey))


@blueprint.route("/forms/new", methods=["GET", "POST"])
@blueprint.route("/forms/<name>/edit", methods=["GET", "POST"])
@admin_required
def edit_form(name: str | None = None):
    audience = _audience()
    session = db_session()
    existing = None
    if name is not None:
        try:
            existing = get_form(session, name)
        except FormNotFound as exc:
            abort(404, description=str(exc))
    if request.method == "GET":
        values = {} if existing is None else {
            "name": existing.name, "title": existing.title, "consent_text": existing.consent_text,
            "ask_name": existing.ask_name, "interests": choices_text(existing.interests),
            "question_text": (existing.question or {}).get("text", ""),
            "question_answers": choices_text((existing.question or {}).get("answers"))}
        return render_template("signup_form_edit.html", existing=existing, values=values, errors=[])
    form = request.form
    question = ({"text": form.get("question_text", ""), "answers": parse_choices(form.get("question_answers", ""))}
                if form.get("question_text", "").strip() else None)
    definition = {"name": existing.name if existing else form.get("name", "").strip(), "title": form.get("title", ""),
                  "consent_text": form.get("consent_text", ""), "ask_name": form.get("ask_name") == "on",
                  "interests": parse_choices(form.get("interests", "")), "question": question}
    try:
        save_form(session, audience.id, definition)
    except RuleError as exc:
        session.rollback()
        return render_template("signup_form_edit.html", existing=existing, values=form, errors=exc.errors), 400
    session.commit()
    flash(_("Form %(name)s saved.", name=definition["name"]))
    return redirect(url_for("surveys.index"))
