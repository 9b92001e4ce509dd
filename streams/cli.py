"""`motcua streams worker`: run a faust worker of the stream processors (several share the partitions)."""

from __future__ import annotations

import typer

streams_app = typer.Typer(help="Stream processors (faust): dossier state, transitions, timers, KPIs, alerts.")


@streams_app.command("worker")
def worker() -> None:
    """Run one worker until SIGTERM or SIGINT (graceful: offsets committed, tables flushed).

    Configured by environment variables (streams/config.py, docs/streams.md).
    """
    from faust.worker import Worker

    from streams.app import StreamsApp
    from streams.config import StreamsConfig

    config = StreamsConfig.from_env()
    streams = StreamsApp(config)
    Worker(streams.app, loglevel=config.loglevel).execute_from_commandline()


def register(app: typer.Typer) -> None:
    """Add ``streams`` to the root ``motcua`` app."""
    app.add_typer(streams_app, name="streams")
