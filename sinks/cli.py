"""`motcua sink` (Kafka -> ClickHouse) and `motcua db migrate|status` (the schema)."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import typer
from clickhouse_driver import Client

from audit.options import HierarchyOption, checked_hierarchy
from sinks.config import ROLES, SinkConfig
from sinks.migrate import MigrationError, applied, migrate, pending
from sinks.service import run_sink
from sinks.top import run_top
from wire.runtime import clickhouse_client
from wire.settings import Settings

db_app = typer.Typer(help="The ClickHouse schema: versioned migrations.", no_args_is_help=True)

DatabaseOption = Annotated[
    str | None, typer.Option("--database", help="Target database (default: MOTCUA_CLICKHOUSE_DATABASE or default).")
]


def _database(database: str | None) -> str:
    return database or str(Settings().clickhouse_settings()["database"])


def _client() -> Client:
    return clickhouse_client()


def run_migrations(database: str, echo: bool = True) -> list[str]:
    """Apply pending migrations; exit 1 with the reason when the database refuses them."""
    client = _client()
    try:
        return migrate(client, database, log=typer.echo if echo else lambda _: None)
    except MigrationError as error:
        typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    finally:
        client.disconnect()


@db_app.command("migrate")
def db_migrate(database: DatabaseOption = None) -> None:
    """Apply every migration not yet recorded in <database>.schema_migrations (safe to rerun)."""
    done = run_migrations(_database(database))
    typer.echo(f"{len(done)} migration(s) applied" if done else "schema up to date")


@db_app.command("status")
def db_status(database: DatabaseOption = None) -> None:
    """List applied and pending migrations."""
    client = _client()
    try:
        target = _database(database)
        for name in applied(client, target):
            typer.echo(f"applied  {name}")
        for name in pending(client, target):
            typer.echo(f"pending  {name}")
    finally:
        client.disconnect()


def sink(
    batch_records: Annotated[int, typer.Option(help="Flush after this many records...")] = 50_000,
    batch_seconds: Annotated[float, typer.Option(help="...or this many seconds after a batch's first record.")] = 1.0,
    batch_quiet_seconds: Annotated[float, typer.Option(
        help="...or once no record came for this many seconds (0: off): lands each burst of KPI rows as it ends.")
    ] = 0.0,
    group: Annotated[str, typer.Option(help="Kafka consumer group (sinks of one group share partitions).")] = (
        "motcua-sink"
    ),
    topic_prefix: Annotated[str, typer.Option(help="Read <prefix>dossier.* (tests, benchmarks).")] = "",
    database: DatabaseOption = None,
    health_port: Annotated[int, typer.Option(help="Port of /health and /metrics (0: none).")] = 18090,
    health_host: Annotated[str, typer.Option(help="Address of /health and /metrics.")] = "127.0.0.1",
    migrate_first: Annotated[bool, typer.Option("--migrate/--no-migrate", help="Apply migrations at start.")] = True,
    sweep_seconds: Annotated[float, typer.Option(help="Seconds between sweeps of open_dossiers' finished dossiers.")
                             ] = 60.0,
    topics: Annotated[str, typer.Option(
        help="Which of the topics to land (comma-separated): two sinks, each with its own --group, can land the "
             "KPI rows in small batches and the rest in large ones.")] = ",".join(ROLES),
) -> None:
    """Land dossier.events, .transitions, .kpis, .alerts and .dlq in ClickHouse, idempotently; Ctrl-C stops."""
    roles = _roles(topics)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    target = _database(database)
    if migrate_first:
        run_migrations(target, echo=False)
    config = SinkConfig(
        database=target,
        group_id=group,
        topic_prefix=topic_prefix,
        batch_records=batch_records,
        batch_seconds=batch_seconds,
        batch_quiet_seconds=batch_quiet_seconds,
        health_host=health_host,
        health_port=health_port or None,
        sweep_seconds=sweep_seconds,
        roles=roles,
    )
    typer.echo(
        f"sink: {config.bootstrap} {', '.join(config.topic(r) for r in config.roles)} -> ClickHouse "
        f"{config.clickhouse['host']}:{config.clickhouse['port']}/{target}"
        + (f"; health http://{health_host}:{health_port}/health" if health_port else ""),
        err=True,
    )
    asyncio.run(run_sink(config))


def _roles(topics: str) -> tuple[str, ...]:
    """The roles named by ``--topics``, in the sink's own order; a clear error for an unknown or missing one."""
    named = {name.strip() for name in topics.split(",") if name.strip()}
    unknown = sorted(named - set(ROLES))
    if unknown or not named:
        raise typer.BadParameter(f"{', '.join(unknown) or 'none given'}: the topics are {', '.join(ROLES)}",
                                 param_hint="--topics")
    return tuple(role for role in ROLES if role in named)


def top(
    interval: Annotated[float, typer.Option(help="Seconds between refreshes.")] = 1.0,
    units: Annotated[int, typer.Option(help="How many of the worst units to list.")] = 10,
    database: DatabaseOption = None,
    health_url: Annotated[str, typer.Option(help="The sink's /health, shown when it answers ('' for none).")] = (
        "http://127.0.0.1:18090/health"
    ),
    once: Annotated[bool, typer.Option("--once", help="Print one frame and exit.")] = False,
    hierarchy: HierarchyOption = "legacy",
) -> None:
    """Live view of today's KPIs per province and the worst units, from ClickHouse; Ctrl-C quits."""
    checked = checked_hierarchy(hierarchy)
    settings = {**Settings().clickhouse_settings(), "database": _database(database)}
    run_top(settings, interval, units, once, health_url or None, hierarchy=checked)


def register(app: typer.Typer) -> None:
    """Add ``sink``, ``db`` and ``top`` to the root ``motcua`` app."""
    app.command("sink")(sink)
    app.add_typer(db_app, name="db")
    app.command("top")(top)
