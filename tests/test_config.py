"""Configuration: file, environment overrides, defaults, errors that name the key and hide secrets."""

import dataclasses
import tomllib
from pathlib import Path

import pytest

from mailseg.config import Config, ConfigError, load_config

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "mailseg.toml"
    path.write_text(text)
    return path


def test_defaults_give_embedded_sqlite_under_var():
    config = load_config(env={})
    assert config.database.url == "sqlite:///var/mailseg.sqlite3"
    assert config.engagement.window_months == 6


def test_example_file_documents_every_key_with_its_default():
    example = tomllib.loads(EXAMPLE.read_text())
    defaults = Config()
    for section in dataclasses.fields(Config):
        assert section.name in example, f"[{section.name}] missing from config.example.toml"
        for key in dataclasses.fields(getattr(defaults, section.name)):
            assert key.name in example[section.name], f"{section.name}.{key.name} missing from config.example.toml"
            assert example[section.name][key.name] == getattr(getattr(defaults, section.name), key.name), \
                f"{section.name}.{key.name}: example shows a value other than the default"
    assert load_config(EXAMPLE, env={}) == defaults


def test_file_values_are_read(tmp_path):
    path = write(tmp_path, '[engagement]\nwindow_months = 9\n[web]\nport = 8080\ntrusted_proxies = ["10.0.0.1"]\n')
    config = load_config(path, env={})
    assert config.engagement.window_months == 9
    assert config.web.port == 8080
    assert config.web.trusted_proxies == ["10.0.0.1"]


def test_environment_overrides_file(tmp_path):
    path = write(tmp_path, "[engagement]\nwindow_months = 9\n")
    env = {"MAILSEG_ENGAGEMENT_WINDOW_MONTHS": "12", "MAILSEG_DATABASE_URL": "sqlite:///x.db",
           "MAILSEG_MAILCHIMP_API_KEY": "abc-us21", "MAILSEG_ENGAGEMENT_COUNT_MACHINE_OPENS": "true",
           "MAILSEG_WEB_TRUSTED_PROXIES": "10.0.0.1, 10.0.0.2"}
    config = load_config(path, env=env)
    assert config.engagement.window_months == 12
    assert config.database.url == "sqlite:///x.db"
    assert config.mailchimp.api_key == "abc-us21"
    assert config.engagement.count_machine_opens is True
    assert config.web.trusted_proxies == ["10.0.0.1", "10.0.0.2"]


def test_config_path_from_environment(tmp_path):
    path = write(tmp_path, "[web]\nport = 9000\n")
    assert load_config(env={"MAILSEG_CONFIG": str(path)}).web.port == 9000


@pytest.mark.parametrize("text, key", [
    ("[engagement]\nwindow_months = 13\n", "engagement.window_months"),
    ("[engagement]\nwindow_months = 5\n", "engagement.window_months"),
    ('[engagement]\nwindow_months = "six"\n', "engagement.window_months"),
    ("[engagement]\nwindow_monthz = 6\n", "engagement.window_monthz"),
    ("[engagment]\nwindow_months = 6\n", "[engagment]"),
    ("[web]\nport = 70000\n", "web.port"),
    ('[engagement]\ncount_machine_opens = "yes"\n', "engagement.count_machine_opens"),
    ("[mailchimp]\nmax_connections = 11\n", "mailchimp.max_connections"),
])
def test_invalid_file_values_name_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        load_config(write(tmp_path, text), env={})


@pytest.mark.parametrize("name, value, key", [
    ("MAILSEG_ENGAGEMENT_WINDOW_MONTHS", "abc", "engagement.window_months"),
    ("MAILSEG_ENGAGEMENT_WINDOW_MONTHS", "24", "engagement.window_months"),
    ("MAILSEG_ENGAGEMENT_COUNT_MACHINE_OPENS", "maybe", "engagement.count_machine_opens"),
    ("MAILSEG_DATABASE_URLL", "x", "database.urll"),
])
def test_invalid_environment_values_name_the_key(name, value, key):
    with pytest.raises(ConfigError, match=key):
        load_config(env={name: value})


def test_secret_values_never_appear_in_errors(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "[mailchimp]\napi_key = 12345678901234\n"), env={})
    assert "12345678901234" not in str(info.value)
    assert "mailchimp.api_key" in str(info.value)


def test_redacted_masks_secrets():
    config = Config().replace(mailchimp={"api_key": "0123456789abcdef-us21"}, web={"secret_key": "s3cret"})
    shown = config.redacted()
    assert shown["mailchimp"]["api_key"] == "****"  # not even the last characters
    assert shown["web"]["secret_key"] == "****"
    assert "0123456789abcdef" not in repr(shown) and "us21" not in repr(shown)


def test_missing_file_and_broken_toml(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", env={})
    with pytest.raises(ConfigError, match="mailseg.toml"):
        load_config(write(tmp_path, "[web\nport=1"), env={})


def test_cli_reports_config_error_and_exits_2(tmp_path):
    from click.testing import CliRunner

    from mailseg.cli import main

    path = write(tmp_path, "[engagement]\nwindow_months = 3\n")
    result = CliRunner().invoke(main, ["--config", str(path), "db", "current"])
    assert result.exit_code == 2
    assert "engagement.window_months" in result.output


def test_repr_hides_secrets():
    config = Config().replace(mailchimp={"api_key": "0123456789abcdef-us21"})
    assert "0123456789abcdef" not in repr(config)


@pytest.mark.parametrize("text, key", [
    ('[scheduler]\nclassify_schedule = "0 3 * *"\n', "scheduler.classify_schedule"),
    ('[scheduler]\npull_schedule = "every 0 minutes"\n', "scheduler.pull_schedule"),
    ('[scheduler]\nsync_schedule = "61 * * * *"\n', "scheduler.sync_schedule"),
    ('[scheduler]\ntimezone = "Mars/Olympus"\n', "scheduler.timezone"),
])
def test_invalid_schedules_name_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError, match=key):
        load_config(write(tmp_path, text), env={})


def test_schedules_accept_crontabs_and_intervals(tmp_path):
    config = load_config(write(tmp_path, '[scheduler]\ntimezone = "Europe/Kyiv"\n'
                                         'pull_schedule = "every 10 minutes"\nclassify_schedule = "0 3 * * 1-5"\n'), env={})
    assert config.scheduler.pull_schedule == "every 10 minutes"


def test_one_text_parser_for_environment_and_panel():
    """MAILSEG_* variables and panel fields are read by the same parser (config.parse_text)."""
    from mailseg.config import ConfigError, parse_text
    from mailseg.settings import parse_value

    for text, expected in (("on", True), ("YES", True), ("0", False), (" false ", False)):
        assert parse_text("engagement.count_machine_opens", text, bool) == expected
        assert parse_value("engagement", "count_machine_opens", text) == expected
    assert parse_value("engagement", "count_machine_opens", "") is False  # an unchecked box
    assert parse_text("x.n", " 12 ", int) == parse_value("engagement", "window_months", "12") == 12
    assert parse_text("x.l", "a, b,,c", list[str]) == ["a", "b", "c"]
    assert parse_value("resend", "subjects", "A, b | C") == ["A, b", "C"]  # commas belong in subjects
    for parse in (lambda: parse_text("engagement.window_months", "nine", int),
                  lambda: parse_value("engagement", "window_months", "nine")):
        with pytest.raises(ConfigError, match="engagement.window_months: expected a whole number, got 'nine'"):
            parse()
