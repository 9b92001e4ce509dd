"""The single `motcua` command line: each room of the architecture registers its own sub-commands.

A room's module is imported only when one of its commands runs, so that `motcua sla due` does not pay for
Kafka, aiohttp or ClickHouse clients it never uses (start-up time matters to scripts and to the tests).
"""

from __future__ import annotations

import importlib
from typing import Any

import typer

#: Top-level command -> the module whose ``register(app)`` adds it.
ROOMS: dict[str, str] = {
    "stack": "stack.cli",
    "sla": "audit.commands",
    "kpi": "audit.commands",
    "produce": "producers.cli",
    "ingest": "producers.cli",
    "streams": "streams.cli",
    "sink": "sinks.cli",
    "db": "sinks.cli",
    "top": "sinks.cli",
    "demo": "motcua.demo",
    "dashboards": "dashboards.cli",
    "screen": "dashboards.cli",
    "notify": "notify.cli",
    "alerts": "notify.cli",
    "replay": "audit.replay_cli",
    "audit": "audit.diff_cli",
    "dossier": "audit.timeline_cli",
}


class _RoomsGroup(typer.core.TyperGroup):
    """Lists every room's commands without importing them; imports a room when one of its commands runs."""

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted(ROOMS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        module = ROOMS.get(cmd_name)
        if module is None:
            return None
        room = typer.Typer()
        room.callback()(lambda: None)  # a callback makes typer build a group even for one command
        importlib.import_module(module).register(room)
        group = typer.main.get_command(room)
        assert isinstance(group, typer.core.TyperGroup)
        return group.get_command(ctx, cmd_name)


app = typer.Typer(
    name="motcua",
    cls=_RoomsGroup,
    help="Live monitoring pipeline for Vietnam's one-stop administrative-procedure centres.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Live monitoring pipeline for Vietnam's one-stop administrative-procedure centres."""
