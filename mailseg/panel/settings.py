"""Policies and settings: values changed here override the config file, validated by the same
rules; every change is audited and listed. Viewers see the values but cannot change them."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..config import ConfigError
from ..secretstate import secret_states
from ..settings import (EDITABLE, LIST_SEPARATOR, change_setting, effective_config, field_choices, field_type, overrides,
                        recent_changes)
from ..web import config, db_session
from .common import admin_required, panel_blueprint

blueprint = panel_blueprint("settings", __name__)

LABELS = {
    ("engagement", "window_months"): ("Engagement window (months)", "Opens and clicks inside this many months count; 6 to 12."),
    ("engagement", "active_min_clicks"): ("Clicks to be active", "Human clicks inside the window that make a subscriber active."),
    ("engagement", "semi_active_min_opens"): ("Opens to be semi-active", "Human opens inside the window that make a non-clicker semi-active."),
    ("engagement", "count_machine_opens"): ("Count machine opens", "Let Apple Mail Privacy Protection opens count as opens (not recommended)."),
    ("frequency", "inactive_every_days"): ("Mail the inactive every (days)", "Inactive subscribers join the eligible tag once their last send is this old; 30 to 120."),
    ("frequency", "eligible_tag"): ("Eligible tag", "The tag regular campaigns should target (the frequency cap)."),
    ("reengagement", "template_campaign_id"): ("Re-engagement campaign", "Mailchimp campaign id copied for each attempt; empty turns re-engagement off."),
    ("reengagement", "min_sends"): ("Sends before re-engagement", "Mailings inside the window, none opened or clicked, before an inactive subscriber enters."),
    ("reengagement", "wait_days"): ("Days to wait for an answer", "Without a human open or click this long after an attempt, the next attempt (or the sunset) follows."),
    ("reengagement", "attempts"): ("Re-engagement attempts", "Attempts before the sunset; 1 to 5."),
    ("sunset", "action"): ("Sunset action", "tag, unsubscribe or archive on Mailchimp; mailseg keeps its own records."),
    ("sunset", "tag"): ("Sunset tag", "The tag the sunset adds when the action is tag."),
    ("resend", "all_regular"): ("Resend every regular campaign", "Resend each regular campaign to its human non-openers."),
    ("resend", "after_days"): ("Resend after (days)", "Days after a campaign (or its last version) before the next version."),
    ("resend", "max_versions"): ("Versions in all", "The original included; 1 to 6."),
    ("resend", "subjects"): ("Resend subjects", "Subjects of version 2, 3, ... separated by |; {subject} is the original's."),
    ("offer", "campaign_id"): ("Offer campaign", "Mailchimp campaign id for subscribers who move from semi-active to active; empty turns offers off."),
    ("offer", "cooldown_days"): ("Offer cooldown (days)", "At most one offer per subscriber in this many days."),
    ("sync", "tag_prefix"): ("Sync tag prefix", "Class tags on Mailchimp are this prefix plus the class name. Changing it "
                             "starts new tags; the old ones stay on Mailchimp until you delete them there."),
}
_POLICY_NAMES = {"cap": "frequency cap", "reengagement": "re-engagement", "resend": "resend", "offer": "offer",
                 "plan": "campaign plans"}
for _policy, _name in _POLICY_NAMES.items():
    LABELS[("holdout", f"{_policy}_share")] = (
        f"Holdout of the {_name}", "Share (0 to 0.5) of the subscribers it would act on that it leaves alone, to measure it.")
    LABELS[("holdout", f"{_policy}_salt")] = (
        f"Experiment salt of the {_name}", "Who is held out follows from this text; a new salt starts a new experiment.")
    LABELS[("uplift", f"{_policy}_horizon_days")] = (
        f"Horizon of the {_name} (days)", "Days after a cohort's week before its verdict is taken, once.")
LABELS[("uplift", "min_group_size")] = ("Smallest group for a verdict",
                                        "Fewer subscribers in either group: not enough data yet.")
SECTION_TITLES = {"engagement": "Engagement classes", "frequency": "Frequency cap", "reengagement": "Re-engagement",
                  "sunset": "Sunset", "resend": "Resend to non-openers", "offer": "Offer for warmed-up subscribers",
                  "sync": "Sync to Mailchimp", "holdout": "Holdouts (experiments)",
                  "uplift": "Experiment verdicts"}


def _fields(errors: dict[str, str], submitted: dict[str, str]) -> list[dict]:
    current, stored = effective_config(db_session(), config()), overrides(db_session())
    fields = []
    for section, keys in EDITABLE.items():
        for key in keys:
            name = f"{section}.{key}"
            label, help_text = LABELS.get((section, key), (name, ""))
            fields.append({"name": name, "section": section, "key": key, "label": label, "help": help_text,
                           "is_bool": field_type(section, key) is bool, "is_int": field_type(section, key) is int,
                           "choices": field_choices(section, key),
                           "value": submitted.get(name, _shown(getattr(getattr(current, section), key))),
                           "overridden": key in stored.get(section, {}), "error": errors.get(name)})
    return fields


def _shown(value):
    return f" {LIST_SEPARATOR} ".join(value) if isinstance(value, list) else value


def _render(errors: dict[str, str] | None = None, submitted: dict[str, str] | None = None, status: int = 200):
    session = db_session()
    secrets = secret_states(session, config())
    session.commit()
    return render_template("settings.html", fields=_fields(errors or {}, submitted or {}),
                           section_titles=SECTION_TITLES, secrets=secrets,
                           changes=recent_changes(session), redacted=config().redacted()), status


@blueprint.get("/settings")
def index():
    return _render()


@blueprint.post("/settings")
@admin_required
def save():
    """Validate every submitted key first; store them all only when all are valid."""
    session, base = db_session(), config()
    submitted = {f"{s}.{k}": value for s, keys in EDITABLE.items() for k in keys
                 if (value := _submitted(s, k)) is not None}
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


def _submitted(section: str, key: str) -> str | None:
    """The posted text, or None for a field the form did not show (left unchanged)."""
    name = f"{section}.{key}"
    if field_type(section, key) is bool:  # an unticked checkbox is not posted at all
        if not request.form.get(name) and not request.form.get(f"{name}__shown"):
            return None
        return "true" if request.form.get(name) else "false"
    return request.form.get(name)


def _message(name: str, exc: ConfigError) -> str:
    """The config error without the key it starts with (the message sits next to that field)."""
    text = str(exc)
    return text[len(name) + 2:].capitalize() if text.startswith(name + ": ") else text
