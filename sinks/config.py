"""What a sink process reads, where it writes, and how it batches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sinks.processors import PROCESSORS
from wire.settings import Settings
from wire.topics import Topics

ROLES: tuple[str, ...] = tuple(PROCESSORS)  # events, transitions, kpis, alerts, dlq


@dataclass(frozen=True)
class SinkConfig:
    """Defaults: near 50,000 records or 1 second per batch (about one INSERT per table per second)."""

    bootstrap: str = field(default_factory=lambda: Settings().bootstrap_servers())
    clickhouse: dict[str, Any] = field(default_factory=lambda: Settings().clickhouse_settings())
    database: str = field(default_factory=lambda: Settings().clickhouse_database)
    group_id: str = "motcua-sink"
    topic_prefix: str = ""  # tests and benchmarks run on their own copies of the topics
    roles: tuple[str, ...] = ROLES
    batch_records: int = 50_000
    batch_seconds: float = 1.0
    # also write a batch once no record came for this long (0: never): lands each burst of KPI rows (one per
    # emission of the streams worker) as it ends instead of a batch period after it began
    batch_quiet_seconds: float = 0.0
    sweep_seconds: float = 60.0  # between sweeps of open_dossiers' finished dossiers (sinks.open_dossiers)
    retry_first_delay: float = 0.2
    retry_max_delay: float = 5.0
    health_host: str = "127.0.0.1"
    health_port: int | None = 18090
    fetch_wait: float = field(default_factory=lambda: Settings().kafka_fetch_wait)  # seconds a fetch may be held

    @property
    def lands_transitions(self) -> bool:
        """Whether this sink writes ``open_dossiers`` (the transitions' snapshots), and so sweeps it."""
        return "transitions" in self.roles

    @property
    def topics(self) -> Topics:
        return Topics.with_prefix(self.topic_prefix)

    def topic(self, role: str) -> str:
        return str(getattr(self.topics, role))

    @property
    def dlq_topic(self) -> str:
        return self.topic("dlq")

    def role_of(self, topic: str) -> str:
        return topic.removeprefix(self.topic_prefix).removeprefix("dossier.")
