"""Settings changed in the panel: validated like the config file, stored, audited, effective."""

import pytest
from tests.factories import ADMIN

from mailseg.config import Config, ConfigError
from mailseg.models import SettingChange
from mailseg.settings import change_setting, effective_config

FORM = {"engagement.window_months": "6", "engagement.active_min_clicks": "1",
        "engagement.semi_active_min_opens": "1"}


def test_change_is_stored_audited_and_effective(session):
    base = Config()
    result = change_setting(session, ADMIN, "engagement", "window_months", "9", base=base)
    session.commit()
    assert (result.old, result.new, result.changed) == (6, 9, True)
    assert effective_config(session, base).engagement.window_months == 9
    again = change_setting(session, ADMIN, "engagement", "window_months", "9", base=base)
    assert not again.changed
    (change,) = session.query(SettingChange).all()
    assert (change.changed_by, change.section, change.key, change.old_value, change.new_value) == (ADMIN, "engagement", "window_months", 6, 9)


@pytest.mark.parametrize("key, raw, message", [
    ("window_months", "13", "engagement.window_months: must be between 6 and 12"),
    ("window_months", "nine", "engagement.window_months: expected a whole number"),
    ("count_machine_opens", "maybe", "expected true or false"),
    ("active_min_clicks", "0", "must be between 1 and 1000"),
])
def test_invalid_values_are_refused_with_the_config_rules(session, key, raw, message):
    with pytest.raises(ConfigError, match=message):
        change_setting(session, ADMIN, "engagement", key, raw)


def test_only_editable_keys(session):
    with pytest.raises(ConfigError, match="cannot be changed in the panel"):
        change_setting(session, ADMIN, "database", "url", "sqlite://")


def test_override_that_no_longer_validates_is_skipped(session):
    from mailseg.models import SettingOverride

    session.add(SettingOverride(section="engagement", key="window_months", value=99, updated_by="x"))
    session.add(SettingOverride(section="engagement", key="active_min_clicks", value=3, updated_by="x"))
    session.commit()
    config = effective_config(session, Config())
    assert config.engagement.window_months == 6 and config.engagement.active_min_clicks == 3


def test_settings_page_saves_and_lists_the_change(admin, session):
    response = admin.post("/settings", data={**FORM, "engagement.window_months": "12",
                                             "engagement.count_machine_opens": "true"})
    assert response.status_code == 302
    page = admin.get("/settings").data.decode()
    assert "Saved: engagement.window_months, engagement.count_machine_opens." in page
    assert 'name="engagement.window_months" value="12"' in page
    assert ('<code>engagement.window_months</code></td><td data-label="Old">6</td><td data-label="New">12</td>'
            in page)
    assert page.count("set in the panel") == 2
    assert session.query(SettingChange).count() == 2  # the keys left as they were are not audited


def test_invalid_value_shows_the_message_next_to_the_field_and_saves_nothing(admin, session):
    response = admin.post("/settings", data={**FORM, "engagement.window_months": "13",
                                             "engagement.active_min_clicks": "5"})
    assert response.status_code == 400
    page = response.data.decode()
    assert 'id="engagement-window_months-error" role="alert">Must be between 6 and 12, got 13</p>' in page
    assert 'value="13"' in page  # the submitted value stays in the field
    assert session.query(SettingChange).count() == 0


def test_settings_page_masks_secrets(app, admin, config):
    app.extensions["mailseg.config"] = config.replace(mailchimp={"api_key": "0123456789abcdef-us21"})
    page = admin.get("/settings").data.decode()
    assert "0123456789abcdef-us21" not in page and "us21" not in page
    assert "configured by the policy issue" not in page
    assert 'name="frequency.inactive_every_days" value="60"' in page and "Resend to non-openers" in page


def test_sync_tag_prefix_is_editable_and_reaches_the_sync(admin, session, config):
    from mailseg.settings import effective_config
    from mailseg.sync.classes import engagement_specs

    response = admin.post("/settings", data={**FORM, "sync.tag_prefix": "seg/"})
    assert response.status_code == 302
    effective = effective_config(session, config)
    assert effective.sync.tag_prefix == "seg/"
    assert "seg/active" in [spec.name for spec in engagement_specs(1, effective.sync.tag_prefix)]


def test_keys_with_a_fixed_set_of_values_are_a_select(admin):
    page = admin.get("/settings").data.decode()
    assert '<select id="sunset-action" name="sunset.action"' in page
    assert '<option value="tag" selected>tag</option>' in page and '<option value="archive">archive</option>' in page


def test_a_viewer_sees_only_whether_a_secret_is_set_and_when_it_changed(app, viewer, config, session):
    from datetime import timedelta

    from mailseg.models import SecretFingerprint
    from mailseg.secretstate import secret_states

    app.extensions["mailseg.config"] = config.replace(mailchimp={"api_key": "0123456789abcdef-us21",
                                                                 "webhook_secret": "hook-path-secret-9f3a"})
    page = viewer.get("/settings").data.decode()
    for secret in ("0123456789abcdef-us21", "us21", "9f3a", "test-secret-key", "test-tracking-secret", "y-secret"):
        assert secret not in page, secret
    assert '<td><code>mailchimp.api_key</code></td><td>set</td>' in page
    assert '<td><code>mandrill.webhook_key</code></td><td><span class="badge muted">not set</span>' in page
    first = session.get(SecretFingerprint, "mailchimp.api_key")
    assert "0123456789abcdef" not in first.fingerprint
    seen_at = first.changed_at
    # the same value keeps its time; a new value gets a new one
    later = seen_at + timedelta(days=3)
    same = {s.name: s for s in secret_states(session, app.extensions["mailseg.config"], later)}
    assert same["mailchimp.api_key"].changed_at == seen_at
    rotated = app.extensions["mailseg.config"].replace(mailchimp={"api_key": "fedcba9876543210-us21"})
    changed = {s.name: s for s in secret_states(session, rotated, later)}
    assert changed["mailchimp.api_key"].changed_at == later
    assert changed["mailchimp.webhook_secret"].changed_at == seen_at
