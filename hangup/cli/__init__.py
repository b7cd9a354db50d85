"""The ``hangup`` command line: one Click group, one module per command family.

Each family module defines its commands and is attached here; errors a user can fix are
``click.ClickException`` subclasses that print one line and exit 2.
"""

from __future__ import annotations

import click

from hangup import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hangup")
def cli() -> None:
    """Why did this call end? Explain release codes, receive call-end events, keep the call log."""


def _register() -> None:
    from hangup.cli import causes

    for command in (causes.explain, causes.translate, causes.codes):
        cli.add_command(command)

    from hangup.cli import emit, outbox, simulate

    for command in (emit.emitter, outbox.outbox, simulate.simulate):
        cli.add_command(command)

    from hangup.cli import calls, db, ingest, quarantine, serve

    for command in (serve.serve, calls.calls, db.db, db.reclassify, ingest.ingest_file, quarantine.quarantine):
        cli.add_command(command)

    from hangup.cli import export, imports

    for command in (imports.import_files, export.export_calls):
        cli.add_command(command)

    from hangup.cli import alerts, rollups, stats

    for command in (stats.stats, rollups.rollups, alerts.alerts):
        cli.add_command(command)


def main() -> None:
    _register()
    cli(prog_name="hangup")
