"""Apply the schema migrations to a ClickHouse database: each once, in order, recorded, safe to rerun."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sinks.migrations import MIGRATIONS, Migration

MIGRATIONS_TABLE = "schema_migrations"


class Executor(Protocol):
    """Runs one SQL statement and returns its rows: a ``clickhouse_driver.Client`` or a chDB adapter."""

    def execute(self, query: str) -> Any: ...


class MigrationError(RuntimeError):
    pass


def _ensure_bookkeeping(executor: Executor, database: str) -> None:
    executor.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
    executor.execute(
        f"CREATE TABLE IF NOT EXISTS {database}.{MIGRATIONS_TABLE} "
        "(name String, checksum String, applied_at DateTime) ENGINE = MergeTree ORDER BY name"
    )


def applied(executor: Executor, database: str) -> dict[str, str]:
    """Name -> checksum of the migrations recorded in the database."""
    _ensure_bookkeeping(executor, database)
    rows = executor.execute(f"SELECT name, any(checksum) FROM {database}.{MIGRATIONS_TABLE} GROUP BY name")
    return {str(name): str(checksum) for name, checksum in rows}


def migrate(
    executor: Executor,
    database: str,
    migrations: Sequence[Migration] = MIGRATIONS,
    log: Callable[[str], None] = lambda _: None,
) -> list[str]:
    """Apply every migration not yet recorded; return the names applied now.

    Refuses (``MigrationError``) when a recorded migration's checksum differs from the code's: it was
    edited after being applied, and the database no longer matches what the code believes.
    """
    done = applied(executor, database)
    edited = [m.name for m in migrations if m.name in done and done[m.name] != m.checksum]
    if edited:
        raise MigrationError(f"applied migrations were edited since: {', '.join(edited)}; add a new migration")
    now_applied = []
    for migration in migrations:
        if migration.name in done:
            log(f"{database}: {migration.name} already applied")
            continue
        for statement in migration.sql(database):
            executor.execute(statement)
        executor.execute(
            f"INSERT INTO {database}.{MIGRATIONS_TABLE} (name, checksum, applied_at) "
            f"SELECT '{migration.name}', '{migration.checksum}', now()"
        )
        log(f"{database}: applied {migration.name}")
        now_applied.append(migration.name)
    return now_applied


def pending(executor: Executor, database: str, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    done = applied(executor, database)
    return [m.name for m in migrations if m.name not in done]
