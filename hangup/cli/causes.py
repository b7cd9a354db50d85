"""``hangup explain``, ``hangup translate`` and ``hangup codes``: the catalog from the shell."""

from __future__ import annotations

import click


@click.command()
@click.argument("refs", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (an array when several references are given).")
def explain(refs: tuple[str, ...], as_json: bool) -> None:
    """Explain release codes given as SCHEME:KEY, e.g. q850:17 sip:486 planet:1003."""
    raise NotImplementedError


@click.command()
@click.argument("ref")
@click.option("--to", "to_scheme", required=True, help="Target scheme, e.g. q850.")
@click.option("--json", "as_json", is_flag=True)
def translate(ref: str, to_scheme: str, as_json: bool) -> None:
    """Give the equivalents of REF in another scheme, best first."""
    raise NotImplementedError


@click.command()
@click.option("--scheme")
@click.option("--outcome")
@click.option("--json", "as_json", is_flag=True)
@click.option("--csv", "as_csv", is_flag=True)
def codes(scheme: str | None, outcome: str | None, as_json: bool, as_csv: bool) -> None:
    """List the catalog."""
    raise NotImplementedError
