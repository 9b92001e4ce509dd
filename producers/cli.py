"""`motcua producers ...` commands (filled in by the producers work)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this room's sub-commands to the root `motcua` app."""
