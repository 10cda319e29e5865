"""The `mailseg` command. Each capability adds its commands from its own module here."""

from __future__ import annotations

import click

from .runtime import Runtime, setup_logging


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", envvar="MAILSEG_CONFIG", type=click.Path(dir_okay=False),
              help="TOML config file (default: $MAILSEG_CONFIG, else ./mailseg.toml if present).")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: bool) -> None:
    """mailseg: email-engagement segmentation for Mailchimp audiences."""
    setup_logging(verbose)
    if ctx.obj is None:  # tests pass a ready Runtime
        ctx.obj = Runtime(config_path)


def _register() -> None:
    from . import (data, db, demo, engagement, experiments, forms, ingest, policies, scheduler, segments, serve, surveys,
                   sync, tokens, users, value)

    main.add_command(db.db)
    main.add_command(data.import_group)
    main.add_command(data.export_group)
    main.add_command(demo.demo)
    main.add_command(serve.serve)
    main.add_command(engagement.classify)
    main.add_command(engagement.explain)
    main.add_command(value.value)
    main.add_command(scheduler.scheduler)
    main.add_command(scheduler.runs)
    main.add_command(users.users_group)
    main.add_command(tokens.tokens_group)
    main.add_command(sync.sync)
    main.add_command(sync.pull)
    main.add_command(ingest.ingest_worker)
    main.add_command(policies.plan)
    main.add_command(policies.run_policies)
    main.add_command(policies.plans_group)
    main.add_command(policies.resend_campaign)
    main.add_command(experiments.uplift)
    main.add_command(experiments.simulate)
    main.add_command(segments.segments_group)
    main.add_command(surveys.surveys_group)
    main.add_command(forms.forms_group)
    data.export_group.add_command(segments.export_segment)


_register()
