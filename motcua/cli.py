"""The single `motcua` command line: each room of the architecture registers its own sub-commands."""

from __future__ import annotations

import typer

from audit.commands import register as register_audit
from motcua.demo import register as register_demo
from producers.cli import register as register_producers
from stack.cli import register as register_stack
from streams.cli import register as register_streams

app = typer.Typer(
    name="motcua",
    help="Live monitoring pipeline for Vietnam's one-stop administrative-procedure centres.",
    no_args_is_help=True,
    add_completion=False,
)

register_stack(app)
register_audit(app)
register_producers(app)
register_streams(app)
register_demo(app)
