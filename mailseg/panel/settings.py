"""Policies and settings: values changed here override the config file, validated by the same
rules; every change is audited and listed. Viewers see the values but cannot change them."""

from __future__ import annotations

import re
from typing import get_origin

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as L_
from flask_login import current_user

from ..config import ConfigError
from ..secretstate import secret_states
from ..settings import (EDITABLE, LIST_SEPARATOR, change_setting, effective_config, field_choices, field_type, overrides,
                        recent_changes)
from ..web import config, db_session
from ..policies.outlook import describe, latest_outlook
from .common import admin_required, current_audience, panel_blueprint

blueprint = panel_blueprint("settings", __name__)

LABELS = {
    ("engagement", "window_months"): (L_("Engagement window (months)"), L_("Opens and clicks inside this many months count; 6 to 12.")),
    ("engagement", "active_min_clicks"): (L_("Clicks to be active"), L_("Human clicks inside the window that make a subscriber active.")),
    ("engagement", "semi_active_min_opens"): (L_("Opens to be semi-active"), L_("Human opens inside the window that make a non-clicker semi-active.")),
    ("engagement", "count_machine_opens"): (L_("Count machine opens"), L_("Let Apple Mail Privacy Protection opens count as opens (not recommended).")),
    ("frequency", "inactive_every_days"): (L_("Mail the inactive every (days)"), L_("Inactive subscribers join the eligible tag once their last send is this old; 30 to 120.")),
    ("frequency", "eligible_tag"): (L_("Eligible tag"), L_("The tag regular campaigns should target (the frequency cap).")),
    ("reengagement", "template_campaign_id"): (L_("Re-engagement campaign"), L_("Mailchimp campaign id copied for each attempt; empty turns re-engagement off.")),
    ("reengagement", "min_sends"): (L_("Sends before re-engagement"), L_("Mailings inside the window, none opened or clicked, before an inactive subscriber enters.")),
    ("reengagement", "wait_days"): (L_("Days to wait for an answer"), L_("Without a human open or click this long after an attempt, the next attempt (or the sunset) follows.")),
    ("reengagement", "attempts"): (L_("Re-engagement attempts"), L_("Attempts before the sunset; 1 to 5.")),
    ("sunset", "action"): (L_("Sunset action"), L_("tag, unsubscribe or archive on Mailchimp; mailseg keeps its own records.")),
    ("sunset", "tag"): (L_("Sunset tag"), L_("The tag the sunset adds when the action is tag.")),
    ("resend", "all_regular"): (L_("Resend every regular campaign"), L_("Resend each regular campaign to its human non-openers.")),
    ("resend", "after_days"): (L_("Resend after (days)"), L_("Days after a campaign (or its last version) before the next version.")),
    ("resend", "max_versions"): (L_("Versions in all"), L_("The original included; 1 to 6.")),
    ("resend", "subjects"): (L_("Resend subjects"), L_("Subjects of version 2, 3, … one per line; {subject} stands for the original's subject.")),
    ("offer", "campaign_id"): (L_("Offer campaign"), L_("Mailchimp campaign id for subscribers who move from semi-active to active; empty turns offers off.")),
    ("offer", "cooldown_days"): (L_("Offer cooldown (days)"), L_("At most one offer per subscriber in this many days.")),
    ("sync", "tag_prefix"): (L_("Sync tag prefix"), L_(
        "Class tags on Mailchimp are this prefix plus the class name. Changing it starts new tags; the old ones stay "
        "on Mailchimp until you delete them there.")),
}
_POLICY_NAMES = {"cap": L_("frequency cap"), "reengagement": L_("re-engagement"), "resend": L_("resend"),
                 "offer": L_("offer"), "plan": L_("campaign plans")}
for _policy, _name in _POLICY_NAMES.items():
    LABELS[("holdout", f"{_policy}_share")] = (
        L_("Holdout: %(policy)s", policy=_name),
        L_("Share (0 to 0.5) of the subscribers it would act on that it leaves alone, to measure it."))
    LABELS[("holdout", f"{_policy}_salt")] = (
        L_("Experiment salt: %(policy)s", policy=_name),
        L_("Who is held out follows from this text; a new salt starts a new experiment."))
    LABELS[("uplift", f"{_policy}_horizon_days")] = (
        L_("Verdict horizon (days): %(policy)s", policy=_name),
        L_("Days after a cohort's week before its verdict is taken, once."))
for _section in ("frequency", "reengagement", "resend", "offer"):  # targeting by a rule segment (`mailseg segments`)
    LABELS[(_section, "segment")] = (L_("Only the segment"), L_("The name of a rule segment: the policy acts on its "
                                                                 "members only; empty: the whole audience."))
    LABELS[(_section, "exclude_segment")] = (L_("Leave out the segment"), L_("The name of a rule segment whose members "
                                                                          "the policy leaves alone; empty: nobody."))
LABELS[("uplift", "min_group_size")] = (L_("Smallest group for a verdict"),
                                        L_("Fewer subscribers in either group: not enough data yet."))
SECTION_TITLES = {"engagement": L_("Engagement classes"), "frequency": L_("Frequency cap"), "reengagement": L_("Re-engagement"),
                  "sunset": L_("Sunset"), "resend": L_("Resend to non-openers"), "offer": L_("Offer for warmed-up subscribers"),
                  "sync": L_("Sync to Mailchimp"), "holdout": L_("Holdouts (experiments)"),
                  "uplift": L_("Experiment verdicts")}


def _fields(errors: dict[str, str], submitted: dict[str, str]) -> list[dict]:
    current, stored = effective_config(db_session(), config()), overrides(db_session())
    fields = []
    for section, keys in EDITABLE.items():
        for key in keys:
            name = f"{section}.{key}"
            label, help_text = LABELS.get((section, key), (name, ""))
            fields.append({"name": name, "section": section, "key": key, "label": label, "help": help_text,
                           "is_bool": field_type(section, key) is bool, "is_int": field_type(section, key) is int,
                           "is_list": _is_list(section, key),
                           "choices": field_choices(section, key),
                           "value": submitted.get(name, _shown(getattr(getattr(current, section), key))),
                           "overridden": key in stored.get(section, {}), "error": errors.get(name)})
    return fields


def _is_list(section: str, key: str) -> bool:
    return get_origin(field_type(section, key)) is list


def _shown(value):
    """A list (resend subjects) is edited one item per line."""
    return "\n".join(value) if isinstance(value, list) else value


# The settings section each policy's next actions are shown under.
POLICY_SECTION = {"reengagement": "reengagement", "sunset": "sunset", "resend": "resend", "offer": "offer",
                  "frequency": "frequency", "plan": "frequency"}


def _next_by_section() -> dict[str, list]:
    """The stored outlook's actions (what the policies do next), grouped under their settings section."""
    audience = current_audience()
    outlook = latest_outlook(db_session(), audience.id) if audience is not None else None
    grouped: dict[str, list] = {}
    for action in outlook.actions if outlook else []:
        grouped.setdefault(POLICY_SECTION.get(action.policy, action.policy), []).append(action)
    return grouped


def _render(errors: dict[str, str] | None = None, submitted: dict[str, str] | None = None, status: int = 200):
    session = db_session()
    secrets = secret_states(session, config())
    session.commit()
    return render_template("settings.html", fields=_fields(errors or {}, submitted or {}),
                           section_titles=SECTION_TITLES, secrets=secrets, next_by_section=_next_by_section(),
                           describe=describe, changes=recent_changes(session), redacted=config().redacted()), status


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
    if changed:
        flash(_("Saved: %(names)s.", names=", ".join(changed)), "success")
    else:
        flash(_("Nothing changed."), "info")
    return redirect(url_for("settings.index"))


def _submitted(section: str, key: str) -> str | None:
    """The posted text, or None for a field the form did not show (left unchanged)."""
    name = f"{section}.{key}"
    if field_type(section, key) is bool:  # an unticked checkbox is not posted at all
        if not request.form.get(name) and not request.form.get(f"{name}__shown"):
            return None
        return "true" if request.form.get(name) else "false"
    raw = request.form.get(name)
    if raw is not None and _is_list(section, key):  # one item per line in the form
        return f" {LIST_SEPARATOR} ".join(line.strip() for line in raw.splitlines() if line.strip())
    return raw


# The validation messages of mailseg.config, in the panel's language (the message sits next to its
# field, so the key it starts with is left out). Anything else is shown as it is.
_MESSAGES = [
    (re.compile(r"must be between (?P<low>\S+) and (?P<high>\S+), got (?P<got>.*)"),
     L_("Must be between %(low)s and %(high)s, got %(got)s")),
    (re.compile(r"must be one of (?P<choices>.+), got (?P<got>.*)"), L_("Must be one of %(choices)s, got %(got)s")),
    (re.compile(r"expected (?:an integer|a whole number), got (?P<got>.*)"), L_("Expected a whole number, got %(got)s")),
    (re.compile(r"expected a number, got (?P<got>.*)"), L_("Expected a number, got %(got)s")),
    (re.compile(r"expected true or false, got (?P<got>.*)"), L_("Expected true or false, got %(got)s")),
    (re.compile(r"give at least one subject line"), L_("Give at least one subject line")),
    (re.compile(r"subject lines cannot be empty"), L_("Subject lines cannot be empty")),
    (re.compile(r"only \{subject\} may appear in braces: (?P<got>.*)"), L_("Only {subject} may appear in braces: %(got)s")),
]


def _message(name: str, exc: ConfigError) -> str:
    text = str(exc)
    text = text[len(name) + 2:] if text.startswith(name + ": ") else text
    for pattern, message in _MESSAGES:
        if match := pattern.fullmatch(text):
            return str(message) % match.groupdict()
    return text[:1].upper() + text[1:]
