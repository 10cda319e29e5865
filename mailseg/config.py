"""Typed configuration: one TOML file, overridden by MAILSEG_<SECTION>_<KEY>.

Every section is a frozen dataclass; a field's metadata carries its rules
(range, choices, secret). The loader rejects unknown sections and keys and
invalid values with a ConfigError naming the key, and never echoes a secret.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, get_args, get_origin, get_type_hints

from .config_experiments import HoldoutConfig, PlatformConfig, SandboxConfig, UpliftConfig
from .config_policies import (SUNSET_ACTIONS, FrequencyConfig, OfferConfig, ReengagementConfig, ResendConfig,  # noqa: F401
                              SunsetConfig)
from .config_value import DEFAULT_RFM_SEGMENTS, VALUE_SYNC_FAMILIES, ValueConfig  # noqa: F401
from .configbase import ConfigError, setting  # re-exported: callers import them from here

from .schedules import check_schedule, check_timezone

ENV_PREFIX = "MAILSEG_"
DEFAULT_CONFIG_FILE = "mailseg.toml"
# Environment variables with the prefix that are not config keys.
NON_CONFIG_ENV = {"MAILSEG_CONFIG", "MAILSEG_TEST_POSTGRES_URL"}


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = setting("sqlite:///var/mailseg.sqlite3", secret=True)
    echo: bool = setting(False)


def _check_public_url(value: str) -> None:
    if value and not value.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL, or empty for the address the app is served on")


@dataclass(frozen=True)
class WebConfig:
    host: str = setting("127.0.0.1")
    port: int = setting(5000, min=1, max=65535)
    secret_key: str = setting("", secret=True)
    # Addresses of reverse proxies whose X-Forwarded-For is believed.
    trusted_proxies: list[str] = setting([])
    secure_cookies: bool = setting(False)
    login_attempts_per_minute: int = setting(5, min=1, max=1000)
    # Largest request body of a panel page (and of any route without its own limit), in bytes.
    max_body_bytes: int = setting(1024 * 1024, min=1024, max=1024**3)
    # The address the world reaches the app at (https://mail.example.com); webhook and tracking URLs
    # are built from it. Empty: the address the app is being served on (the request's host).
    public_url: str = setting("", check=_check_public_url)


def _check_queue_url(value: str) -> None:
    if value and not value.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("expected a redis://, rediss:// or unix:// URL, or empty to store directly")


@dataclass(frozen=True)
class TrackingConfig:
    secret: str = setting("", secret=True)
    # Older name of web.public_url for the tracking links; empty follows web.public_url.
    base_url: str = setting("")
    # Write-behind for pixel opens and clicks: "" stores each in its request; a redis:// URL buffers
    # them in a Redis list drained in batches by `mailseg ingest-worker` or the scheduler process.
    queue_url: str = setting("", secret=True, check=_check_queue_url)
    queue_name: str = setting("mailseg:tracking")
    queue_batch_size: int = setting(1000, min=1, max=20_000)
    queue_flush_seconds: float = setting(0.5, min=0.01, max=60)
    # Without a queue: each web worker stores opens and clicks in batches at most this old (seconds),
    # from a background thread (mailseg.ingest.localbuffer); 0 stores each in its own request.
    buffer_seconds: float = setting(0.2, min=0, max=10)


@dataclass(frozen=True)
class EngagementConfig:
    window_months: int = setting(6, min=6, max=12)
    count_machine_opens: bool = setting(False)
    active_min_clicks: int = setting(1, min=1, max=1000)
    semi_active_min_opens: int = setting(1, min=1, max=1000)


@dataclass(frozen=True)
class MailchimpConfig:
    api_key: str = setting("", secret=True)
    server: str = setting("")
    list_id: str = setting("")
    api_base_url: str = setting("")
    # The e-commerce store whose orders `mailseg pull` imports; empty: no orders are pulled.
    store_id: str = setting("")
    webhook_secret: str = setting("", secret=True)
    # The secret being rotated out, accepted until previous_webhook_secret_until.
    previous_webhook_secret: str = setting("", secret=True)
    previous_webhook_secret_until: str = setting("")
    max_connections: int = setting(4, min=1, max=10)
    timeout_seconds: int = setting(120, min=1, max=600)
    # Attempts of one API call on 429, a bare 403, 5xx or a lost connection, before the run gives up.
    max_attempts: int = setting(8, min=1, max=20)
    # Largest body of an audience webhook POST, in bytes (Mailchimp's are a few kB).
    webhook_max_body_bytes: int = setting(1024 * 1024, min=1024, max=1024**3)


@dataclass(frozen=True)
class SyncConfig:
    # Mirrored segments are named <tag_prefix><segment>, e.g. mailseg:active.
    tag_prefix: str = setting("mailseg:")
    # Addresses added (and removed) per bulk call; Mailchimp accepts at most 500 of each.
    batch_size: int = setting(500, min=1, max=500)
    # Runs an address the platform refuses is retried in before it is skipped (and still reported).
    address_attempts: int = setting(3, min=1, max=100)


@dataclass(frozen=True)
class MandrillConfig:
    webhook_key: str = setting("", secret=True)
    webhook_url: str = setting("")
    # Largest body of a webhook POST, in bytes (up to 1,000 events: a few MB of JSON).
    webhook_max_body_bytes: int = setting(32 * 1024 * 1024, min=1024, max=1024**3)


@dataclass(frozen=True)
class FlaggingConfig:
    """Thresholds of the stateful machine/bot rules in mailseg.ingest.flagging."""

    # An open this many seconds or fewer after the message was sent is a proxy prefetch (Apple MPP).
    open_after_send_seconds: int = setting(5, min=0, max=3600)
    # A click this many seconds or fewer after delivery, before any open, is a link scanner.
    click_after_send_seconds: int = setting(10, min=0, max=3600)
    # This many different links of one email clicked within the same second is a link scanner.
    same_second_links: int = setting(2, min=2, max=100)
    # Clicks of the same email this close to a honeypot click come from the same scanner.
    honeypot_window_seconds: int = setting(60, min=0, max=86400)
    # Added to the built-in lists: user-agent substrings (case-insensitive) and networks (CIDR) of scanners.
    scanner_user_agents: list[str] = setting([])
    scanner_networks: list[str] = setting([])


@dataclass(frozen=True)
class SchedulerConfig:
    timezone: str = setting("UTC", check=check_timezone)
    pull_schedule: str = setting("0 * * * *", check=check_schedule)
    classify_schedule: str = setting("0 3 * * *", check=check_schedule)
    sync_schedule: str = setting("30 * * * *", check=check_schedule)
    requests_schedule: str = setting("every 15 seconds", check=check_schedule)
    misfire_grace_seconds: int = setting(3600, min=1, max=7 * 86400)
    lease_seconds: int = setting(30, min=2, max=3600)
    standby_poll_seconds: int = setting(5, min=1, max=600)


@dataclass(frozen=True)
class ApiConfig:
    """The JSON API under /api/v1 (bearer tokens: `mailseg tokens add`)."""

    # Largest request body accepted (a 1,000-order batch is about 200 kB); larger ones get 413.
    max_body_bytes: int = setting(2_000_000, min=1_000, max=50_000_000)


@dataclass(frozen=True)
class ActionsConfig:
    """Policy actions that fail on the platform: retried with backoff, then given up; never blocking others."""

    # Tries of an action (the first included) before it is given up and shown as failed.
    max_attempts: int = setting(5, min=1, max=50)
    # Wait before the first retry; it doubles with each further failure (15, 30, 60, ... minutes).
    retry_minutes: int = setting(15, min=1, max=7 * 24 * 60)


@dataclass(frozen=True)
class ImportConfig:
    batch_size: int = setting(5000, min=100, max=100_000)


@dataclass(frozen=True)
class FormsConfig:
    """Bot and abuse defences of the hosted sign-up forms (/f/<form>)."""

    # A submission sooner than this after the form was rendered is a bot.
    min_seconds: float = setting(3, min=0, max=600)
    # A rendered form's token is good this long.
    max_age_hours: int = setting(24, min=1, max=24 * 30)
    # Accepted submissions per email address per hour; more get "try again later".
    per_address_per_hour: int = setting(3, min=1, max=100)


@dataclass(frozen=True)
class Config:
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    web: WebConfig = field(default_factory=WebConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    engagement: EngagementConfig = field(default_factory=EngagementConfig)
    mailchimp: MailchimpConfig = field(default_factory=MailchimpConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    mandrill: MandrillConfig = field(default_factory=MandrillConfig)
    flagging: FlaggingConfig = field(default_factory=FlaggingConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    imports: ImportConfig = field(default_factory=ImportConfig)
    frequency: FrequencyConfig = field(default_factory=FrequencyConfig)
    reengagement: ReengagementConfig = field(default_factory=ReengagementConfig)
    sunset: SunsetConfig = field(default_factory=SunsetConfig)
    resend: ResendConfig = field(default_factory=ResendConfig)
    offer: OfferConfig = field(default_factory=OfferConfig)
    actions: ActionsConfig = field(default_factory=ActionsConfig)
    forms: FormsConfig = field(default_factory=FormsConfig)
    value: ValueConfig = field(default_factory=ValueConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    platform: PlatformConfig = field(default_factory=PlatformConfig)
    holdout: HoldoutConfig = field(default_factory=HoldoutConfig)
    uplift: UpliftConfig = field(default_factory=UpliftConfig)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)

    def replace(self, **sections: Mapping[str, Any]) -> "Config":
        """A copy with some keys changed, validated like the file: replace(engagement={"window_months": 9})."""
        raw = {name: dict(values) for name, values in sections.items()}
        return _build(raw, base=self)

    def redacted(self) -> dict[str, dict[str, Any]]:
        """The configuration as a dict with every secret masked, for display."""
        out: dict[str, dict[str, Any]] = {}
        for section_field in dataclasses.fields(self):
            section = getattr(self, section_field.name)
            out[section_field.name] = {
                f.name: mask(getattr(section, f.name)) if f.metadata.get("secret") else getattr(section, f.name)
                for f in dataclasses.fields(section)
            }
        return out


def mask(value: str) -> str:
    """A secret as it may be shown: whether it is set, nothing of its characters."""
    return "****" if value else ""


def secret_keys() -> list[tuple[str, str]]:
    """(section, key) of every secret config key, in declaration order."""
    return [(section.name, f.name) for section in dataclasses.fields(Config)
            for f in dataclasses.fields(section.default_factory()) if f.metadata.get("secret")]


def load_config(path: str | os.PathLike | None = None,
                env: Mapping[str, str] | None = None) -> Config:
    """Read the TOML file (explicit path, else $MAILSEG_CONFIG, else ./mailseg.toml if present), then env overrides."""
    env = os.environ if env is None else env
    raw: dict[str, dict[str, Any]] = {}
    path = path or env.get("MAILSEG_CONFIG")
    if path is None and Path(DEFAULT_CONFIG_FILE).exists():
        path = DEFAULT_CONFIG_FILE
    if path is not None:
        raw = _read_toml(Path(path))
    for section, key, value in _env_overrides(env):
        raw.setdefault(section, {})[key] = value
    return _build(raw)


def _read_toml(path: Path) -> dict[str, dict[str, Any]]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    for name, value in data.items():
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: top-level key '{name}' must be a [section]")
    return data


def _section_fields() -> dict[str, type]:
    hints = get_type_hints(Config)
    return {f.name: hints[f.name] for f in dataclasses.fields(Config)}


def _env_overrides(env: Mapping[str, str]):
    sections = _section_fields()
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name in NON_CONFIG_ENV:
            continue
        rest = name[len(ENV_PREFIX):].lower()
        section = next((s for s in sections if rest.startswith(s + "_")), None)
        if section is None:
            continue  # not ours (e.g. MAILSEG_SOMETHING_ELSE used by a wrapper script)
        key = rest[len(section) + 1:]
        known = {f.name for f in dataclasses.fields(sections[section])}
        if key not in known:
            raise ConfigError(f"environment variable {name}: unknown key '{section}.{key}'")
        yield section, key, _EnvString(value)


class _EnvString(str):
    """A value from the environment: parsed to the field's type rather than type-checked."""


def _build(raw: Mapping[str, Mapping[str, Any]], base: Config | None = None) -> Config:
    base = base or Config()
    sections = _section_fields()
    built: dict[str, Any] = {}
    for name in raw:
        if name not in sections:
            raise ConfigError(f"unknown config section [{name}] (known: {', '.join(sections)})")
    for name, cls in sections.items():
        current = getattr(base, name)
        values = raw.get(name, {})
        hints = get_type_hints(cls)
        known = {f.name: f for f in dataclasses.fields(cls)}
        for key in values:
            if key not in known:
                raise ConfigError(f"unknown config key '{name}.{key}'")
        kwargs = {}
        for key, f in known.items():
            if key in values:
                kwargs[key] = _coerce(f"{name}.{key}", values[key], hints[key], f.metadata)
            else:
                kwargs[key] = getattr(current, key)
        built[name] = cls(**kwargs)
    return Config(**built)


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def parse_text(key: str, text: str, typ: Any, *, list_separator: str = ",", shown: str | None = None) -> Any:
    """A value written as text (a MAILSEG_* environment variable, a panel form field) turned into the
    key's type: the one text-to-value parser. Raises ConfigError naming the key; range and choice
    rules are checked by the config afterwards."""
    shown = shown or repr(text)
    value = text.strip()
    if typ is bool:
        if value.lower() not in TRUE_WORDS | FALSE_WORDS:
            raise ConfigError(f"{key}: expected true or false, got {shown}")
        return value.lower() in TRUE_WORDS
    if typ is int:
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{key}: expected a whole number, got {shown}") from None
    if typ is float:
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{key}: expected a number, got {shown}") from None
    if get_origin(typ) is list:
        return [item.strip() for item in value.split(list_separator) if item.strip()]
    return value


def _coerce(key: str, value: Any, typ: Any, rules: Mapping[str, Any]) -> Any:
    shown = "(secret)" if rules.get("secret") else repr(str(value) if isinstance(value, _EnvString) else value)
    if isinstance(value, _EnvString):
        value = parse_text(key, str(value), typ, shown=shown) if typ is not str else str(value)
    if typ is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {shown}")
    elif typ is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected a whole number, got {shown}")
    elif typ is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {shown}")
        value = float(value)
    elif typ is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {shown}")
        value = str(value)
    elif get_origin(typ) is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key}: expected a list of strings, got {shown}")
        (item_type,) = get_args(typ)
        assert item_type is str
    else:  # pragma: no cover - a field type the loader does not know is a programming error
        raise TypeError(f"unsupported config type for {key}: {typ}")
    _check_rules(key, value, rules, shown)
    return value


def _check_rules(key: str, value: Any, rules: Mapping[str, Any], shown: str) -> None:
    low, high, choices = rules.get("min"), rules.get("max"), rules.get("choices")
    if low is not None and value < low or high is not None and value > high:
        raise ConfigError(f"{key}: must be between {low} and {high}, got {shown}")
    if choices is not None and value not in choices:
        raise ConfigError(f"{key}: must be one of {', '.join(map(str, choices))}, got {shown}")
    check = rules.get("check")
    if check is not None:
        try:
            check(value)
        except ValueError as exc:
            raise ConfigError(f"{key}: {exc}") from None
