"""The tables the sink writes and the columns it sends, in INSERT order.

The DDL lives in the migrations (frozen once applied); these lists are what the processors build and
the writer inserts. ``tests/sinks/test_schema.py`` checks them against the migrated tables, so a column
added to one without the other fails a test rather than an INSERT.

Instants are ``DateTime('Asia/Ho_Chi_Minh')`` (whole seconds since the epoch; the zone only decides how
they print and which local month a partition is). The archive keeps the sub-second part of
``occurred_at`` in ``occurred_us`` and every event's original bytes in ``payload``.
"""

from __future__ import annotations

from dataclasses import dataclass

from dossier.kpi import COUNT_FIELDS, RATE_FIELDS

KAFKA_COLUMNS: tuple[str, ...] = ("_topic", "_partition", "_offset", "_timestamp")
"""Where each row came from (PostHog's provenance columns): topic, partition, offset, record time."""


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]

    def insert_sql(self, database: str) -> str:
        return f"INSERT INTO {database}.{self.name} ({', '.join(self.columns)}) VALUES"


EVENTS = Table(
    "events",
    (
        "dossier_id", "event_id", "type", "occurred_at", "occurred_us", "province", "unit", "procedure_code",
        "procedure_field", "status", "officer", "payload", *KAFKA_COLUMNS,
    ),
)
TRANSITIONS = Table(
    "transitions",
    (
        "transition_id", "dossier_id", "kind", "at", "province", "unit", "procedure_code", "procedure_field",
        "officer", "due_at", "outcome", "end_type", *KAFKA_COLUMNS,
    ),
)
KPIS = Table(
    "kpis",
    (
        "scope", "scope_id", "period", "period_start", *COUNT_FIELDS, *RATE_FIELDS, "provisional",
        "watermark", *KAFKA_COLUMNS,
    ),
)
ALERTS = Table(
    "alerts",
    (
        "alert_id", "kind", "at", "province", "unit", "dossier_id", "officer", "due_at", "rate", "threshold",
        "period_start", "message", *KAFKA_COLUMNS,
    ),
)
DLQ = Table(
    "dlq",
    (
        "origin_topic", "origin_partition", "origin_offset", "stage", "source", "reason", "refused_at", "key",
        "payload", *KAFKA_COLUMNS,
    ),
)

SINK_BATCHES = Table(
    "sink_batches",
    ("written_at", "topic", "partition", "first_offset", "next_offset", "records", "rows", "lag", "write_ms"),
)
"""The sink's own log: one row per topic-partition of each batch it wrote (``Batch.log_columns``)."""

TABLES: tuple[Table, ...] = (EVENTS, TRANSITIONS, KPIS, ALERTS, DLQ, SINK_BATCHES)
