"""`motcua streams worker`: run a faust worker of the stream processors (several share the partitions)."""

from __future__ import annotations

import typer

streams_app = typer.Typer(help="Stream processors (faust): dossier state, transitions, timers, KPIs, alerts.")


@streams_app.command("worker")
def worker() -> None:
    """Run one worker until SIGTERM or SIGINT (graceful: offsets committed, tables flushed).

    Configured by environment variables (streams/config.py, docs/streams.md).
    """
    from streams.app import StreamsApp
    from streams.collector import freeze_survivors_of_full_collections
    from streams.config import StreamsConfig, internal_topics
    from streams.service_worker import ServiceWorker
    from streams.watchdog import watch_progress
    from wire.topics import ensure_topics, replication_for

    config = StreamsConfig.from_env()
    config.datadir.mkdir(parents=True, exist_ok=True)  # faust creates only its last level
    # faust creates the internal topics only for the stages it runs; a stage may write to the next one's
    replication = replication_for(config.bootstrap)
    ensure_topics(config.bootstrap, replication, internal_topics(config))
    streams = StreamsApp(config, replication)
    freeze_survivors_of_full_collections()
    watch_progress(streams.progress)
    ServiceWorker(streams.app, loglevel=config.loglevel, stop_seconds=config.stop_seconds).execute_from_commandline()


def register(app: typer.Typer) -> None:
    """Add ``streams`` to the root ``motcua`` app."""
    app.add_typer(streams_app, name="streams")
