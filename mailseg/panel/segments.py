"""Segments in the panel: the list with presets, the builder (no JSON needed; a JSON view for
experts) with a live count, a segment's members (keyset pages, CSV export) and its size over time."""

from __future__ import annotations

import json

from flask import Response, abort, flash, jsonify, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _

from ..export import csv_lines
from ..models import utcnow
from ..segments import (RuleError, SegmentNotFound, add_segment, get_segment, list_segments, preview, refresh_segment,
                        remove_segment, update_segment)
from ..segments.grammar import COUNT_OPS, EVENT_TYPES, OPERATORS, SUBSCRIBER_FIELDS, VALUE_FIELDS
from ..segments.members import MEMBER_COLUMNS, member_page, member_rows, size_history
from ..segments.presets import PRESETS, preset_segments
from ..segments.store import mirrored_tag
from ..settings import effective_config
from ..surveys import list_surveys
from ..timeutil import isoformat_utc
from ..values import is_id, is_subscriber_id
from ..web import config, database, db_session
from .common import admin_required, current_audience, panel_blueprint

blueprint = panel_blueprint("segments", __name__)
MEMBERS_PAGE = 50


def _audience():
    audience = current_audience()
    if audience is None:
        abort(404, description=_("There is no audience yet."))
    return audience


def _settings():
    return effective_config(db_session(), config())


def _segment_or_404(audience_id: int, name: str):
    try:
        return get_segment(db_session(), audience_id, name)
    except SegmentNotFound as exc:
        abort(404, description=str(exc))


@blueprint.get("/segments")
def index():
    audience = current_audience()
    segments = list_segments(db_session(), audience.id) if audience else []
    starting_points = [(preset, p) for preset in PRESETS for p in preset_segments(preset)]
    return render_template("segments.html", audience=audience, segments=segments, starting_points=starting_points,
                           tag_prefix=_settings().sync.tag_prefix)


def _builder_data(audience_id: int, exclude: str | None = None) -> dict:
    """What the builder's selects offer: fields with their type, operators per type, events."""
    fields = {**SUBSCRIBER_FIELDS, **VALUE_FIELDS}
    for survey in list_surveys(db_session(), audience_id):
        fields[f"survey.{survey.name}"] = "number" if survey.kind == "scale" else "text"
    for segment in list_segments(db_session(), audience_id):
        if segment.name != exclude:
            fields[f"segment.{segment.name}"] = "segment"
    return {"fields": fields, "operators": OPERATORS, "events": EVENT_TYPES, "count_ops": COUNT_OPS,
            "preview_url": url_for("segments.preview_rule")}


def _starting_rule() -> tuple[dict, str, str]:
    preset, step = request.args.get("preset"), request.args.get("step")
    if preset in PRESETS:
        for p in preset_segments(preset):
            if step in (None, p.name):
                return p.rule, p.name, p.description
    return {"all": [{"field": "status", "op": "=", "value": "subscribed"}]}, "", ""


@blueprint.route("/segments/new", methods=["GET", "POST"])
@admin_required
def new():
    audience = _audience()
    if request.method == "POST":
        return _save(audience.id, None)
    rule, name, description = _starting_rule()
    return render_template("segment_edit.html", segment=None, rule=rule, name=name, description=description,
                           sync=False, tag="", errors=[], builder=_builder_data(audience.id))


@blueprint.route("/segments/<name>/edit", methods=["GET", "POST"])
@admin_required
def edit(name: str):
    audience = _audience()
    segment = _segment_or_404(audience.id, name)
    if request.method == "POST":
        return _save(audience.id, segment)
    return render_template("segment_edit.html", segment=segment, rule=segment.rule, name=segment.name,
                           description=segment.description or "", sync=segment.sync, tag=segment.tag or "",
                           errors=[], builder=_builder_data(audience.id, exclude=segment.name))


def _save(audience_id: int, segment):
    form = request.form
    name = segment.name if segment else form.get("name", "").strip()
    sync, tag, description = form.get("sync") == "on", form.get("tag", "").strip(), form.get("description", "").strip()
    session = db_session()
    settings = _settings()
    try:
        rule = json.loads(form.get("rule", ""))
    except json.JSONDecodeError as exc:
        errors, rule = [_("rule: not JSON (%(reason)s)", reason=exc.msg)], form.get("rule", "")
    else:
        errors = []
        try:
            if segment is None:
                saved = add_segment(session, audience_id, name, rule, sync=sync, tag=tag or None,
                                    description=description or None, tag_prefix=settings.sync.tag_prefix)
            else:
                saved = update_segment(session, audience_id, name, rule=rule, sync=sync, tag=tag,
                                       description=description, tag_prefix=settings.sync.tag_prefix)
            refresh_segment(session, saved, settings.engagement, as_of=utcnow())
            session.commit()
            flash(_("Segment %(name)s saved: %(count)s members.", name=name, count=saved.member_count))
            return redirect(url_for("segments.show", name=name))
        except RuleError as exc:
            session.rollback()
            errors = exc.errors
    return render_template("segment_edit.html", segment=segment, rule=rule, name=name, description=description,
                           sync=sync, tag=tag, errors=errors,
                           builder=_builder_data(audience_id, exclude=segment.name if segment else None)), 400


@blueprint.post("/segments/preview")
def preview_rule():
    """The live count: {"rule": {...}} -> {"count", "sample"} or {"errors": [...]} (400)."""
    audience = _audience()
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or "rule" not in body:
        return jsonify(errors=["rule: missing"]), 400
    try:
        result = preview(db_session(), audience.id, body["rule"], _settings().engagement, sample=5)
    except RuleError as exc:
        return jsonify(errors=exc.errors), 400
    return jsonify(count=result.count, sample=result.sample, as_of=isoformat_utc(result.as_of))


@blueprint.get("/segments/<name>")
def show(name: str):
    audience = _audience()
    segment = _segment_or_404(audience.id, name)
    after = request.args.get("after", type=int)
    if after is not None and not is_subscriber_id(after):
        after = None  # a cursor no id can have: the first page
    rows = member_page(db_session(), segment.id, after=after, limit=MEMBERS_PAGE)
    next_url = url_for("segments.show", name=name, after=rows[-1].subscriber_id) if len(rows) == MEMBERS_PAGE else None
    sizes = size_history(db_session(), segment.id)
    series = {"labels": [isoformat_utc(at)[:16].replace("T", " ") for at, _n in sizes],
              "members": [n for _at, n in sizes], "label": _("members")}
    return render_template("segment.html", segment=segment, rows=rows, next_url=next_url, paged=after is not None,
                           series=series, tag=mirrored_tag(segment, _settings().sync.tag_prefix),
                           rule_json=json.dumps(segment.rule, indent=2, ensure_ascii=False))


@blueprint.get("/segments/<name>/members.csv")
def export(name: str):
    audience = _audience()
    segment_id = _segment_or_404(audience.id, name).id

    def generate():
        with database().session() as session:
            yield from csv_lines(member_rows(session, segment_id), MEMBER_COLUMNS)

    return Response(stream_with_context(generate()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="segment-{name}.csv"'})


@blueprint.post("/segments/<name>/refresh")
@admin_required
def refresh(name: str):
    audience = _audience()
    segment = _segment_or_404(audience.id, name)
    result = refresh_segment(db_session(), segment, _settings().engagement, as_of=utcnow())
    db_session().commit()
    flash(_("%(name)s evaluated: %(members)s members, %(joined)s joined, %(left)s left.", name=name,
            members=result.members, joined=result.joined, left=result.left))
    return redirect(url_for("segments.show", name=name))


@blueprint.post("/segments/<name>/remove")
@admin_required
def remove(name: str):
    audience = _audience()
    try:
        remove_segment(db_session(), audience.id, name, tag_prefix=_settings().sync.tag_prefix)
    except SegmentNotFound as exc:
        abort(404, description=str(exc))
    except RuleError as exc:
        flash("; ".join(exc.errors))
        return redirect(url_for("segments.show", name=name))
    db_session().commit()
    flash(_("Segment %(name)s removed.", name=name))
    return redirect(url_for("segments.index"))
