"""The migrations on both engines: ClickHouse 18.16 (the local server) and a current release (chDB)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from clickhouse_driver import Client

from sinks.migrate import MigrationError, applied, migrate
from sinks.migrations import MIGRATIONS, Migration
from sinks.tables import TABLES
from tests.sinks.chdb_executor import ChdbExecutor

EXPECTED_TABLES = {
    "schema_migrations", "events", "events_unique", "transitions", "transitions_unique", "dossiers",
    "dossiers_from_transitions", "dossiers_current", "kpis", "kpis_latest", "alerts", "alerts_unique", "dlq",
    "dlq_unique", "sink_batches", "notifications", "notifications_latest", "province_merger_2025",
    "kpis_latest_2025", "open_dossiers", "open_dossiers_current", "scopes", "scopes_from_transitions",
    "dossier_units", "dossier_units_from_events", "province_codes_2025",
}


@pytest.fixture
def chdb() -> Iterator[ChdbExecutor]:
    executor = ChdbExecutor()
    yield executor
    executor.close()


def _check_schema(executor: Client | ChdbExecutor, database: str) -> None:
    assert migrate(executor, database) == [m.name for m in MIGRATIONS]
    assert migrate(executor, database) == []  # safe to rerun: nothing applied twice
    assert set(applied(executor, database)) == {m.name for m in MIGRATIONS}
    assert executor.execute(f"SELECT count() FROM {database}.schema_migrations")[0][0] == len(MIGRATIONS)
    tables = {row[0] for row in executor.execute(f"SELECT name FROM system.tables WHERE database = '{database}'")}
    assert tables == EXPECTED_TABLES
    for table in TABLES:  # the columns the sink sends are the table's columns without a default
        columns = executor.execute(
            f"SELECT name FROM system.columns WHERE database = '{database}' AND table = '{table.name}' "
            "AND default_kind = ''"
        )
        assert {row[0] for row in columns} == set(table.columns), table.name


@pytest.mark.integration
def test_migrations_on_the_local_clickhouse_18_16(ch: Client, unique_name: str) -> None:
    assert ch.execute("SELECT version()")[0][0].startswith("18.16")
    try:
        _check_schema(ch, unique_name)
    finally:
        ch.execute(f"DROP DATABASE IF EXISTS {unique_name}")


def test_migrations_on_a_current_clickhouse(chdb: ChdbExecutor) -> None:
    assert int(chdb.execute("SELECT version()")[0][0].split(".")[0]) >= 24
    _check_schema(chdb, "motcua")


def test_an_applied_migration_that_was_edited_is_refused(chdb: ChdbExecutor) -> None:
    migrate(chdb, "motcua")
    first = MIGRATIONS[0]
    edited = Migration(first.name, (*first.statements, "SELECT 1"))
    with pytest.raises(MigrationError, match=first.name):
        migrate(chdb, "motcua", (edited, *MIGRATIONS[1:]))


def test_a_run_interrupted_between_statements_is_finished_by_the_next(chdb: ChdbExecutor) -> None:
    migrate(chdb, "motcua", MIGRATIONS[:1])
    chdb.execute(MIGRATIONS[1].sql("motcua")[0])  # the first table of 0002 exists, unrecorded
    assert migrate(chdb, "motcua") == [m.name for m in MIGRATIONS[1:]]
