"""What every command shares: the configuration, the database, and how errors end a command."""

from __future__ import annotations

import functools
import logging
import sys
from dataclasses import dataclass, field
from typing import Callable

import click

from ..audiences import AudienceNotFound
from ..config import Config, ConfigError, load_config
from ..db import Database, SchemaOutOfDate
from ..ingest.records import FileFormatError
from ..providers.base import AuthenticationError, ProviderError
from ..segments.grammar import RuleError


@dataclass
class Runtime:
    config_path: str | None = None
    _config: Config | None = field(default=None, repr=False)
    _database: Database | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    @property
    def db(self) -> Database:
        if self._database is None:
            self._database = Database(self.config.database.url, echo=self.config.database.echo)
        return self._database

    def settings(self, session) -> Config:
        """The config with the panel's saved settings applied (what jobs and commands act on)."""
        from ..settings import effective_config

        return effective_config(session, self.config)

    def migrated_db(self) -> Database:
        """The database, after checking that its schema is current."""
        self.db.require_current_schema()
        return self.db


pass_runtime = click.make_pass_decorator(Runtime)


def fails_cleanly(command: Callable) -> Callable:
    """Turn expected failures (bad config, bad file, unknown audience / segment / survey, a refused rule,
    a refusing email platform) into a message and exit code; a rejected API key exits 3."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ConfigError as exc:
            click.echo(f"config error: {exc}", err=True)
            sys.exit(2)
        except (FileFormatError, AudienceNotFound, FileNotFoundError, SchemaOutOfDate, *_lookup_errors()) as exc:
            click.echo(f"error: {exc.args[0] if isinstance(exc, LookupError) else exc}", err=True)
            sys.exit(1)
        except RuleError as exc:  # a rule, survey or form definition: every problem on its own line
            for error in exc.errors:
                click.echo(f"error: {error}", err=True)
            sys.exit(1)
        except AuthenticationError as exc:
            click.echo(f"error: {exc}; the run was stopped", err=True)
            sys.exit(3)
        except ProviderError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper


def _lookup_errors() -> tuple[type[Exception], ...]:
    """Things named on the command line that do not exist (segments, surveys, forms, subscribers), and survey
    links without tracking.secret."""
    from ..engagement import SubscriberNotFound
    from ..forms import FormNotFound
    from ..segments import SegmentNotFound
    from ..surveys import SurveyNotFound
    from ..tracking.tokens import TrackingDisabled

    return SegmentNotFound, SurveyNotFound, FormNotFound, SubscriberNotFound, TrackingDisabled


def setup_logging(verbose: bool) -> None:
    level = logging.DEBUG if verbose else logging.INFO
    if sys.stderr.isatty():
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(show_path=False)
        fmt = "%(message)s"
    else:
        handler = logging.StreamHandler(sys.stderr)
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler.setFormatter(logging.Formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # apscheduler.executors logs every run of every job (the requests job runs every 15 s);
    # mailseg's own jobs log what they did.
    for noisy in ("sqlalchemy", "alembic", "apscheduler.executors"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
