"""`motcua demo` and the registration of the ClickHouse room's commands (`sink`, `db`, `top`)."""

from __future__ import annotations

import typer

from sinks.cli import register as register_sinks


def register(app: typer.Typer) -> None:
    """Add ``sink``, ``db`` and ``top`` (sinks/) and ``demo`` to the root ``motcua`` app."""
    register_sinks(app)
