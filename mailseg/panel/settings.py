"""Policies and settings: values changed here override the config file, validated by the same
rules; every change is audited and listed. Viewers see the values but cannot change them."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..config import ConfigError
from ..settings import EDITABLE, change_setting, effective_config, field_type, overrides, recent_changes
from ..web import config, db_session
from .common import admin_required, panel_blueprint

blueprint = panel_blueprint("settings", __name__)

LABELS = {
    ("engagement", "window_months"): ("Engagement window (months)", "Opens and clicks inside this many months count; 6 to 12."),
    ("engagement", "active_min_clicks"): ("Clicks to be active", "Human clicks inside the window that make a subscriber active."),
    ("engagement", "semi_active_min_opens"): ("Opens to be semi-active", "Human opens inside the window that make a non-clicker semi-active."),
    ("engagement", "count_machine_opens"): ("Count machine opens", "Let Apple Mail Privacy Protection opens count as opens (not recommended)."),
}
# Shown until the issues that own these settings add their config keys to EDITABLE.
PLACEHOLDERS = (
    ("Frequency cap", "policy issue (#7)"),
    ("Re-engagement email: template, wait, attempts", "policy issue (#7)"),
    ("Sunset action", "policy issue (#7)"),
    ("Resend to non-openers: delay, versions, subject variants", "policy issue (#7)"),
    ("Offer campaign and cooldown", "policy issue (#7)"),
    ("Sync tag prefix", "Mailchimp sync issue (#6)"),
)


def _fields(errors: dict[str, str], submitted: dict[str, str]) -> list[dict]:
    current, stored = effective_config(db_session(), config()), overrides(db_session())
    fields = []
    for section, keys in EDITABLE.items():
        for key in keys:
            name = f"{section}.{key}"
            label, help_text = LABELS.get((section, key), (name, ""))
            fields.append({"name": name, "section": section, "key": key, "label": label, "help": help_text,
                           "is_bool": field_type(section, key) is bool,
                           "value": submitted.get(name, getattr(getattr(current, section), key)),
                           "overridden": key in stored.get(section, {}), "error": errors.get(name)})
    return fields


def _render(errors: dict[str, str] | None = None, submitted: dict[str, str] | None = None, status: int = 200):
    return render_template("settings.html", fields=_fields(errors or {}, submitted or {}), placeholders=PLACEHOLDERS,
                           changes=recent_changes(db_session()), redacted=config().redacted()), status


@blueprint.get("/settings")
def index():
    return _render()


@blueprint.post("/settings")
@admin_required
def save():
    """Validate every submitted key first; store them all only when all are valid."""
    session, base = db_session(), config()
    submitted = {f"{s}.{k}": _submitted(s, k) for s, keys in EDITABLE.items() for k in keys}
    errors, changed = {}, []
    for name, raw in submitted.items():
        section, key = name.split(".", 1)
        try:
            result = change_setting(session, current_user.email, section, key, raw, base=base)
        except ConfigError as exc:
            errors[name] = _message(name, exc)
            continue
        if result.changed:
            changed.append(name)
    if errors:
        session.rollback()
        return _render(errors, submitted, status=400)
    session.commit()
    flash(f"Saved: {', '.join(changed)}." if changed else "Nothing changed.")
    return redirect(url_for("settings.index"))


def _submitted(section: str, key: str) -> str:
    name = f"{section}.{key}"
    if field_type(section, key) is bool:  # an unticked checkbox is not posted at all
        return "true" if request.form.get(name) else "false"
    return request.form.get(name, "")


def _message(name: str, exc: ConfigError) -> str:
    """The config error without the key it starts with (the message sits next to that field)."""
    text = str(exc)
    return text[len(name) + 2:].capitalize() if text.startswith(name + ": ") else text
