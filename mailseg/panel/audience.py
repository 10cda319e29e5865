"""The audience table (search, filters, sort, keyset pages) and its CSV export."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response, abort, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as L_

from ..export import csv_lines
from ..models import SUBSCRIBER_STATUSES
from ..reports.audience import (EXPORT_COLUMNS, PAGE_SIZE, BadCursor, SubscriberFilter, export_rows, result_count,
                                search_matches, subscriber_page)
from ..reports.audience_search import SEARCH_CAP
from ..reports.dashboard import CLASS_ORDER, UNCLASSIFIED
from ..web import database, db_session
from .common import current_audience, panel_blueprint

blueprint = panel_blueprint("audience", __name__)
MAX_PAGE_SIZE = 500
SORT_LABELS = {"email": L_("Email A→Z"), "-email": L_("Email Z→A"), "subscribed": L_("Oldest sign-up"),
               "-subscribed": L_("Newest sign-up"), "class": L_("Class (active first)"),
               "-since": L_("Newest class change"), "since": L_("Oldest class change"),
               "-activity": L_("Latest activity first"), "activity": L_("Longest without activity")}


def _filter() -> SubscriberFilter:
    args = request.args
    return SubscriberFilter(q=args.get("q", ""), engagement_class=args.get("class", ""),
                            status=args.get("status", ""), sort=args.get("sort", "email"))


def _filter_args(f: SubscriberFilter) -> dict:
    args = {"q": f.q, "class": f.engagement_class, "status": f.status, "sort": f.sort, "size": request.args.get("size")}
    return {k: v for k, v in args.items() if v}


def _page_size() -> int:
    return min(max(request.args.get("size", PAGE_SIZE, type=int), 1), MAX_PAGE_SIZE)


@blueprint.get("/audience")
def index():
    audience, f = current_audience(), _filter()
    page = count = None
    if audience is not None:
        found = search_matches(db_session(), audience.id, f)  # a substring search's matches, read once
        count = result_count(db_session(), audience.id, f, found=found)
        try:
            page = subscriber_page(db_session(), audience.id, f, cursor=request.args.get("after") or None,
                                   limit=_page_size(), found=found)
        except BadCursor as exc:
            abort(400, description=_("The page link is damaged; start again from the first page."))
    next_url = url_for("audience.index", after=page.next_cursor, **_filter_args(f)) if page and page.next_cursor else None
    return render_template("audience.html", audience=audience, f=f, page=page, next_url=next_url,
                           first_url=url_for("audience.index", **_filter_args(f)),
                           export_url=url_for("audience.export", **_filter_args(f)),
                           classes=[*CLASS_ORDER, UNCLASSIFIED], statuses=SUBSCRIBER_STATUSES, sorts=SORT_LABELS,
                           paged=bool(request.args.get("after")), count=count, cap=SEARCH_CAP)


@blueprint.get("/audience/export.csv")
def export():
    """Stream every subscriber matching the filter; its own session lives as long as the response."""
    audience, f = current_audience(), _filter()
    if audience is None:
        abort(404, description=_("There is no audience yet."))
    audience_id = audience.id

    def generate():
        with database().session() as session:
            yield from csv_lines(export_rows(session, audience_id, f), EXPORT_COLUMNS)

    return Response(stream_with_context(generate()), mimetype="text/csv",
                    headers={"Content-Disposition": attachment(f"{audience.name}-subscribers.csv")})


def attachment(filename: str) -> str:
    """Content-Disposition for a download whose name may be any text (RFC 6266): an ASCII fallback
    in `filename` (quotes, backslashes, controls replaced) and the exact name in RFC 5987 `filename*`.
    Headers are Latin-1 on the wire: a raw non-ASCII name breaks gunicorn and hangs Werkzeug."""
    fallback = "".join(ch if " " <= ch < "\x7f" and ch not in '"\\%' else "_" for ch in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
