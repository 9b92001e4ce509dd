"""Configuration of a streams worker, from environment variables with sane defaults.

| variable | default | meaning |
|---|---|---|
| MOTCUA_KAFKA_BOOTSTRAP | the local stack (`stack.services`) | Kafka bootstrap servers |
| MOTCUA_STREAMS_APP_ID | motcua-streams | faust app id: consumer group, prefix of changelog/internal topics |
| MOTCUA_STREAMS_TOPIC_PREFIX | (empty) | prefix of the five pipeline topics (tests use a unique one) |
| MOTCUA_STREAMS_PARTITIONS | 6 | partitions of dossier.events (tables and the summaries topic match it) |
| MOTCUA_STREAMS_STORE | memory:// | table store URL; rocksdb:// (needs rocksdict) is experimental: docs/streams.md |
| MOTCUA_STREAMS_DATADIR | $MOTCUA_HOME/streams/<app id>-<web port> | where RocksDB tables live |
| MOTCUA_STREAMS_WEB_HOST / _WEB_PORT | 127.0.0.1 / 6066 | health endpoint and faust's web metrics |
| MOTCUA_STREAMS_BATCH / _BATCH_WITHIN | 2000 / 0.2 | records per batch, seconds to wait for a full one |
| MOTCUA_STREAMS_COMPRESSION | gzip | compression of everything the worker produces (gzip, lz4, snappy, none) |
| MOTCUA_STREAMS_KPI_INTERVAL | 1.0 | seconds between KPI row emissions (a row at most once per interval) |
| MOTCUA_STREAMS_UNIT_ALERT_RATE / _UNIT_ALERT_MIN | 0.2 / 10 | unit overdue-rate alert: threshold, minimum to_process |
| MOTCUA_STREAMS_SESSION_TIMEOUT | 30 | seconds before Kafka declares a silent worker dead and rebalances |
| MOTCUA_STREAMS_STANDBYS | 0 | standby table replicas (faster fail-over, twice the changelog reading) |
| MOTCUA_STREAMS_CACHE | 200000 | decoded dossiers kept in memory per worker |
| MOTCUA_STREAMS_LOGLEVEL | info | faust worker log level |
| MOTCUA_STREAMS_STAGES | all | `dossiers` or `kpis` runs one stage only (benchmarks; every worker of an app id alike) |
| MOTCUA_STREAMS_STALL_SECONDS | 180 | records pending, no progress this long: /health 503, exit 75 (watchdog.py) |
| MOTCUA_STREAMS_STOP_SECONDS | 25 | a graceful stop (SIGTERM, SIGINT) taking longer ends the process, exit 124 |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from stack import services
from stack.topics import STREAMS_TABLES, TopicSpec, streams_internal_topics


def _env(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


#: Tables in memory, rebuilt from their changelogs on every assignment (RocksDB: docs/streams.md, Known limits).
DEFAULT_STORE = "memory://"


@dataclass(frozen=True)
class Topics:
    events: str
    dlq: str
    transitions: str
    kpis: str
    alerts: str

    @classmethod
    def with_prefix(cls, prefix: str) -> Topics:
        return cls(*(f"{prefix}dossier.{name}" for name in ("events", "dlq", "transitions", "kpis", "alerts")))


@dataclass(frozen=True)
class StreamsConfig:
    bootstrap: str
    app_id: str
    topics: Topics
    partitions: int
    store: str
    datadir: Path
    web_host: str
    web_port: int
    batch: int
    batch_within: float
    compression: str | None
    kpi_interval: float
    unit_alert_rate: float
    unit_alert_min: int
    session_timeout: float
    standbys: int
    cache: int
    loglevel: str
    stages: str
    stall_seconds: float
    stop_seconds: float

    @property
    def summaries_topic(self) -> str:
        """The internal topic of dossier summaries re-keyed by province (and watermarks)."""
        return f"{self.app_id}-summaries"

    @property
    def partials_topic(self) -> str:
        """The internal topic of each province's KPI rows re-keyed by row key, for the rollup."""
        return f"{self.app_id}-kpi-partials"

    @classmethod
    def from_env(cls) -> StreamsConfig:
        app_id = _env("MOTCUA_STREAMS_APP_ID", "motcua-streams")
        web_port = int(_env("MOTCUA_STREAMS_WEB_PORT", "6066"))
        datadir = os.environ.get("MOTCUA_STREAMS_DATADIR", "").strip()
        return cls(
            bootstrap=services.bootstrap_servers(),
            app_id=app_id,
            topics=Topics.with_prefix(os.environ.get("MOTCUA_STREAMS_TOPIC_PREFIX", "").strip()),
            partitions=int(_env("MOTCUA_STREAMS_PARTITIONS", "6")),
            store=_env("MOTCUA_STREAMS_STORE", DEFAULT_STORE),
            datadir=Path(datadir) if datadir else services.home() / "streams" / f"{app_id}-{web_port}",
            web_host=_env("MOTCUA_STREAMS_WEB_HOST", "127.0.0.1"),
            web_port=web_port,
            batch=int(_env("MOTCUA_STREAMS_BATCH", "2000")),
            batch_within=float(_env("MOTCUA_STREAMS_BATCH_WITHIN", "0.2")),
            compression=None if (c := _env("MOTCUA_STREAMS_COMPRESSION", "gzip")) == "none" else c,
            kpi_interval=float(_env("MOTCUA_STREAMS_KPI_INTERVAL", "1.0")),
            unit_alert_rate=float(_env("MOTCUA_STREAMS_UNIT_ALERT_RATE", "0.2")),
            unit_alert_min=int(_env("MOTCUA_STREAMS_UNIT_ALERT_MIN", "10")),
            session_timeout=float(_env("MOTCUA_STREAMS_SESSION_TIMEOUT", "30")),
            standbys=int(_env("MOTCUA_STREAMS_STANDBYS", "0")),
            cache=int(_env("MOTCUA_STREAMS_CACHE", "200000")),
            loglevel=_env("MOTCUA_STREAMS_LOGLEVEL", "info"),
            stages=_stages(_env("MOTCUA_STREAMS_STAGES", "all")),
            stall_seconds=float(_env("MOTCUA_STREAMS_STALL_SECONDS", "180")),
            stop_seconds=float(_env("MOTCUA_STREAMS_STOP_SECONDS", "25")),
        )


DOSSIERS_TABLE, SUMMARIES_TABLE, PARTIALS_TABLE = STREAMS_TABLES


def internal_topics(config: StreamsConfig) -> tuple[TopicSpec, ...]:
    """The topics between the stages, the changelogs and faust's leader topic, partitioned like ``dossier.events``."""
    return streams_internal_topics(config.app_id, config.partitions)


def _stages(value: str) -> str:
    if value not in ("all", "dossiers", "kpis"):
        raise ValueError(f"MOTCUA_STREAMS_STAGES={value!r}: one of all, dossiers, kpis")
    return value
