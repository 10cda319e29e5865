"""The policy settings in the panel: validated by the config rules, stored, effective for the jobs."""

import pytest
from tests.factories import ADMIN

from mailseg.config import Config, ConfigError
from mailseg.settings import change_setting, effective_config


def test_policy_settings_are_stored_and_effective(session):
    base = Config()
    change_setting(session, ADMIN, "frequency", "inactive_every_days", "90", base=base)
    change_setting(session, ADMIN, "sunset", "action", "archive", base=base)
    change_setting(session, ADMIN, "resend", "subjects", "Again: {subject} | Still there? {subject}", base=base)
    session.commit()
    config = effective_config(session, base)
    assert config.frequency.inactive_every_days == 90 and config.sunset.action == "archive"
    assert config.resend.subjects == ["Again: {subject}", "Still there? {subject}"]


@pytest.mark.parametrize("section, key, raw, message", [
    ("frequency", "inactive_every_days", "20", "must be between 30 and 120"),
    ("frequency", "inactive_every_days", "121", "must be between 30 and 120"),
    ("sunset", "action", "delete", "must be one of tag, unsubscribe, archive"),
    ("reengagement", "attempts", "0", "must be between 1 and 5"),
    ("resend", "subjects", "Hi {name}", "only {subject} may appear in braces"),
    ("resend", "subjects", " | ", "give at least one subject line"),
    ("offer", "cooldown_days", "soon", "expected a whole number"),
])
def test_policy_settings_refused_with_the_config_rules(session, section, key, raw, message):
    with pytest.raises(ConfigError, match=message):
        change_setting(session, ADMIN, section, key, raw)


def test_panel_form_validates_policy_settings(admin, session):
    from mailseg.models import SettingChange

    response = admin.post("/settings", data={"frequency.inactive_every_days": "200", "sunset.action": "archive"})
    assert response.status_code == 400
    assert 'id="frequency-inactive_every_days-error" role="alert">Must be between 30 and 120, got 200</p>' \
        in response.data.decode()
    assert session.query(SettingChange).count() == 0
    response = admin.post("/settings", data={"frequency.inactive_every_days": "90", "sunset.action": "archive",
                                             "resend.all_regular__shown": "1"})
    assert response.status_code == 302
    session.expire_all()
    assert {(c.section, c.key) for c in session.query(SettingChange)} == {
        ("frequency", "inactive_every_days"), ("sunset", "action"), ("resend", "all_regular")}
