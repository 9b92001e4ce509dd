"""The ClickHouse schema as numbered migrations, applied in order, each once (``sinks.migrate``).

A migration is frozen once it has been applied anywhere: change the schema by adding a migration, never
by editing one (the runner refuses a database whose recorded checksum differs). Every statement is
idempotent (``IF NOT EXISTS``), so a run interrupted between two statements is finished by the next run.
The SQL keeps to what both ClickHouse 18.16 (the local server) and a current release (chDB, production)
accept; ``{db}`` is the target database.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sinks.migrations import (
    m0001_event_archive,
    m0002_transitions_and_dossiers,
    m0003_kpi_rows,
    m0004_alerts_and_dlq,
    m0005_notifications,
    m0006_sink_batches,
    m0007_province_merger,
    m0008_open_dossiers,
    m0009_dossier_units,
    m0010_province_codes_2025,
)


@dataclass(frozen=True)
class Migration:
    name: str
    statements: tuple[str, ...]

    def sql(self, database: str) -> list[str]:
        return [statement.replace("{db}", database) for statement in self.statements]

    @property
    def checksum(self) -> str:
        return hashlib.sha256("\n;\n".join(self.statements).encode()).hexdigest()[:16]


MIGRATIONS: tuple[Migration, ...] = tuple(
    Migration(module.__name__.rsplit(".", 1)[1].removeprefix("m"), module.STATEMENTS)
    for module in (
        m0001_event_archive, m0002_transitions_and_dossiers, m0003_kpi_rows, m0004_alerts_and_dlq,
        m0005_notifications, m0006_sink_batches, m0007_province_merger, m0008_open_dossiers,
        m0009_dossier_units, m0010_province_codes_2025,
    )
)
