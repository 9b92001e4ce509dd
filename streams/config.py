"""Configuration of a streams worker, from environment variables with sane defaults (read by ``wire.settings``).

| variable | default | meaning |
|---|---|---|
| MOTCUA_KAFKA_BOOTSTRAP | the local stack (`wire.settings`) | Kafka bootstrap servers |
| MOTCUA_KAFKA_FETCH_WAIT | 0.1 | seconds the broker may hold a fetch (faust's fixed 1.5 s otherwise: fetching.py) |
| MOTCUA_STREAMS_APP_ID | motcua-streams | names the topics between the stages; faust's app id: `group_id` |
| MOTCUA_STREAMS_TOPIC_PREFIX | (empty) | prefix of the five pipeline topics (tests use a unique one) |
| MOTCUA_STREAMS_PARTITIONS | 6 | partitions of dossier.events (tables and the summaries topic match it) |
| MOTCUA_STREAMS_DATADIR | $MOTCUA_HOME/streams/<app id>-<web port> | the tables' SQLite files (streams/store.py) |
| MOTCUA_STREAMS_WEB_HOST / _WEB_PORT | 127.0.0.1 / 6066 | health endpoint and faust's web metrics |
| MOTCUA_STREAMS_BATCH / _BATCH_WITHIN | 2000 / 0.2 | records per batch, seconds to wait for a full one |
| MOTCUA_STREAMS_COMPRESSION | gzip | compression of everything the worker produces (gzip, lz4, snappy, none) |
| MOTCUA_STREAMS_KPI_INTERVAL | 1.0 | seconds between KPI emissions (a row at most once per interval, less a quarter) |
| MOTCUA_STREAMS_UNIT_ALERT_RATE / _UNIT_ALERT_MIN | 0.2 / 10 | unit overdue-rate alert: threshold, minimum to_process |
| MOTCUA_STREAMS_SESSION_TIMEOUT | 30 | seconds before Kafka declares a silent worker dead and rebalances |
| MOTCUA_STREAMS_STANDBYS | 0 | standby table replicas (faster fail-over, twice the changelog reading) |
| MOTCUA_STREAMS_CACHE | 50000 | decoded dossiers kept in memory per worker (the others are read from the table) |
| MOTCUA_STREAMS_TABLE_CACHE_MIB | 320 | the tables' SQLite page caches (MiB; 7:2:1 to dossiers, summaries, partials) |
| MOTCUA_STREAMS_LOGLEVEL | info | faust worker log level |
| MOTCUA_STREAMS_STAGES | all | `dossiers` or `kpis`: one stage only, as the group `<app id>-<stage>` (see `group_id`) |
| MOTCUA_STREAMS_STALL_SECONDS | 180 | records pending, no progress this long: /health 503, exit 75 (watchdog.py) |
| MOTCUA_STREAMS_STOP_SECONDS | 25 | a graceful stop (SIGTERM, SIGINT) taking longer ends the process, exit 124 |
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wire.settings import Settings
from wire.topics import STREAMS_TABLES, Topics, TopicSpec, partials_topic, streams_internal_topics, summaries_topic


@dataclass(frozen=True)
class StreamsConfig:
    bootstrap: str
    app_id: str
    topics: Topics
    partitions: int
    datadir: Path
    web_host: str
    web_port: int
    batch: int
    batch_within: float
    fetch_wait: float
    compression: str | None
    kpi_interval: float
    unit_alert_rate: float
    unit_alert_min: int
    session_timeout: float
    standbys: int
    cache: int
    table_cache_mib: int
    loglevel: str
    stages: str
    stall_seconds: float
    stop_seconds: float

    @property
    def group_id(self) -> str:
        return stage_group_id(self.app_id, self.stages)

    @property
    def summaries_topic(self) -> str:
        return summaries_topic(self.app_id)

    @property
    def partials_topic(self) -> str:
        return partials_topic(self.app_id)

    def table_cache_kib(self, table: str) -> int:
        """A table's share of ``table_cache_mib``: what each must keep in memory of the dossiers active in the
        last month of event time (docs/streams.md, Memory); the dossiers' events take the most."""
        return self.table_cache_mib * 1024 * TABLE_CACHE_SHARES[table] // sum(TABLE_CACHE_SHARES.values())

    @classmethod
    def from_env(cls) -> StreamsConfig:
        env = Settings()
        app_id = env.streams_app_id
        web_port = env.streams_web_port
        datadir = env.streams_datadir
        return cls(
            bootstrap=env.bootstrap_servers(),
            app_id=app_id,
            topics=Topics.with_prefix(env.streams_topic_prefix),
            partitions=env.streams_partitions,
            datadir=datadir if datadir else env.home_dir / "streams" / f"{app_id}-{web_port}",
            web_host=env.streams_web_host,
            web_port=web_port,
            batch=env.streams_batch,
            batch_within=env.streams_batch_within,
            fetch_wait=env.kafka_fetch_wait,
            compression=None if (c := env.streams_compression) == "none" else c,
            kpi_interval=env.streams_kpi_interval,
            unit_alert_rate=env.streams_unit_alert_rate,
            unit_alert_min=env.streams_unit_alert_min,
            session_timeout=env.streams_session_timeout,
            standbys=env.streams_standbys,
            cache=env.streams_cache,
            table_cache_mib=env.streams_table_cache_mib,
            loglevel=env.streams_loglevel,
            stages=_stages(env.streams_stages),
            stall_seconds=env.streams_stall_seconds,
            stop_seconds=env.streams_stop_seconds,
        )


DOSSIERS_TABLE, SUMMARIES_TABLE, PARTIALS_TABLE = STREAMS_TABLES
TABLE_CACHE_SHARES = {DOSSIERS_TABLE: 7, SUMMARIES_TABLE: 2, PARTIALS_TABLE: 1}


def internal_topics(config: StreamsConfig) -> tuple[TopicSpec, ...]:
    """The topics between the stages, the changelogs and faust's leader topic, partitioned like ``dossier.events``."""
    return streams_internal_topics(config.app_id, config.partitions, config.group_id)


def stage_group_id(app_id: str, stages: str) -> str:
    """faust's app id of a worker running ``stages``: its consumer group, the prefix of its changelogs and
    of its leader topic.

    A worker of one stage is a group of its own: faust's assignor gives every member of a group partitions
    of every topic of the app, so the two stages cannot share one. They still share the topics between
    them, named by the app id: a ``dossiers`` worker feeds the ``kpis`` workers of the same app id.
    """
    return app_id if stages == "all" else f"{app_id}-{stages}"


def _stages(value: str) -> str:
    if value not in ("all", "dossiers", "kpis"):
        raise ValueError(f"MOTCUA_STREAMS_STAGES={value!r}: one of all, dossiers, kpis")
    return value
