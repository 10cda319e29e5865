"""Settings changed in the panel: overrides stored in the `settings` table on top of the file and
environment config, validated by exactly the config file's rules, every change audited.

Jobs read `effective_config(session, base)` so a value saved in the panel applies to the next run.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_type_hints

from sqlalchemy import select
from sqlalchemy.orm import Session

from .config import Config, ConfigError, parse_text
from .models import SettingChange, SettingOverride, utcnow

log = logging.getLogger(__name__)

# The keys the panel may change, by section. Other capabilities add theirs here when they land.
EDITABLE: dict[str, tuple[str, ...]] = {
    "engagement": ("window_months", "active_min_clicks", "semi_active_min_opens", "count_machine_opens"),
    "frequency": ("inactive_every_days", "eligible_tag", "segment", "exclude_segment"),
    "reengagement": ("template_campaign_id", "min_sends", "wait_days", "attempts", "segment", "exclude_segment"),
    "sunset": ("action", "tag"),
    "resend": ("all_regular", "after_days", "max_versions", "subjects", "segment", "exclude_segment"),
    "offer": ("campaign_id", "cooldown_days", "segment", "exclude_segment"),
    "sync": ("tag_prefix",),
    "holdout": tuple(f"{policy}_{what}" for policy in ("cap", "reengagement", "resend", "offer", "plan")
                     for what in ("share", "salt")),
    "uplift": ("cap_horizon_days", "reengagement_horizon_days", "resend_horizon_days", "offer_horizon_days",
               "plan_horizon_days", "min_group_size"),
}
# A list typed in one field: items separated by this character.
LIST_SEPARATOR = "|"


@dataclass(frozen=True)
class SettingChangeResult:
    section: str
    key: str
    old: Any
    new: Any
    changed: bool


def overrides(session: Session) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for row in session.scalars(select(SettingOverride).order_by(SettingOverride.section, SettingOverride.key)):
        out.setdefault(row.section, {})[row.key] = row.value
    return out


def effective_config(session: Session, base: Config) -> Config:
    """The base config with the panel's overrides applied. An override that no longer validates
    (its rules changed since it was saved) is skipped with a warning rather than stopping every job."""
    stored = overrides(session)
    try:
        return base.replace(**stored)
    except ConfigError:
        config = base
        for section, values in stored.items():
            for key, value in values.items():
                try:
                    config = config.replace(**{section: {key: value}})
                except ConfigError as exc:
                    log.warning("ignoring the panel setting %s.%s: %s", section, key, exc)
        return config


def change_setting(session: Session, user_email: str, section: str, key: str, raw_value: str | bool | int,
                   *, base: Config | None = None) -> SettingChangeResult:
    """Validate and store one panel setting in the caller's transaction; raises ConfigError naming
    the key when the value is not allowed. `base` is the file/env config the old value comes from
    when there was no override yet. An unchanged value writes nothing."""
    if key not in EDITABLE.get(section, ()):
        raise ConfigError(f"{section}.{key} cannot be changed in the panel")
    base = base or Config()
    value = parse_value(section, key, raw_value)
    validated = getattr(base.replace(**{section: {key: value}}), section)
    new = getattr(validated, key)
    row = session.scalar(select(SettingOverride).where(SettingOverride.section == section, SettingOverride.key == key))
    old = row.value if row is not None else getattr(getattr(base, section), key)
    if old == new:
        return SettingChangeResult(section, key, old, new, changed=False)
    now = utcnow()
    if row is None:
        session.add(SettingOverride(section=section, key=key, value=new, updated_by=user_email, updated_at=now))
    else:
        row.value, row.updated_by, row.updated_at = new, user_email, now
    audit(session, user_email, section, key, old, new, at=now)
    return SettingChangeResult(section, key, old, new, changed=True)


def audit(session: Session, user_email: str, section: str, key: str, old: Any, new: Any, *,
          at: datetime | None = None) -> None:
    """Add a line to the change history shown on the settings page."""
    session.add(SettingChange(changed_at=at or utcnow(), changed_by=user_email, section=section, key=key,
                              old_value=old, new_value=new))
    session.flush()


def parse_value(section: str, key: str, raw: str | bool | int) -> Any:
    """A form's text turned into the key's type by the config's own parser (config.parse_text; lists
    typed with "|" between items, an unchecked box is false); ranges and choices are left to the config."""
    typ = field_type(section, key)
    if not isinstance(raw, str):
        return raw
    if typ is bool and not raw.strip():
        return False
    return parse_text(f"{section}.{key}", raw, typ, list_separator=LIST_SEPARATOR)


def field_type(section: str, key: str) -> Any:
    section_type = get_type_hints(Config)[section]
    if key not in {f.name for f in dataclasses.fields(section_type)}:
        raise ConfigError(f"unknown config key '{section}.{key}'")
    return get_type_hints(section_type)[key]


def field_choices(section: str, key: str) -> tuple | None:
    """The allowed values of a key that has a fixed set (e.g. sunset.action), else None."""
    section_type = get_type_hints(Config)[section]
    (found,) = [f for f in dataclasses.fields(section_type) if f.name == key]
    return found.metadata.get("choices")


def recent_changes(session: Session, limit: int = 50) -> list[SettingChange]:
    return list(session.scalars(select(SettingChange).order_by(SettingChange.changed_at.desc(), SettingChange.id.desc())
                                .limit(limit)))
