"""The Kafka topics the pipeline needs, and their idempotent creation with kafka-python's admin client."""

from __future__ import annotations

from dataclasses import dataclass, field

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic

FOREVER = "-1"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)


# The log of record and its DLQ are kept forever (replay/audit reads any range); the KPI topic is
# compacted (latest row per key = per scope and period). Partition counts: 6 lets up to 6 faust workers
# or sinks share a topic; a partition count can later grow, never shrink (keys would move).
PIPELINE_TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec("dossier.events", 6, {"retention.ms": FOREVER}),
    TopicSpec("dossier.dlq", 1, {"retention.ms": FOREVER}),
    TopicSpec("dossier.transitions", 6),
    TopicSpec("dossier.kpis", 6, {"cleanup.policy": "compact"}),
    TopicSpec("dossier.alerts", 3),
)


#: The streams worker's faust tables; faust names a table's changelog ``<app id>-<table>-changelog``.
STREAMS_TABLES = ("dossiers", "kpi-summaries", "kpi-partials")
STREAMS_APP_ID = "motcua-streams"


def streams_internal_topics(app_id: str = STREAMS_APP_ID, partitions: int = 6) -> tuple[TopicSpec, ...]:
    """Every topic a streams worker of ``app_id`` reads or writes besides the pipeline's, created up front.

    The topics between its stages, the tables' changelogs (compacted, like faust's own) and faust's leader
    topic. With broker auto-creation off, nothing is created behind the worker's back with one partition.
    """
    compacted = {"cleanup.policy": "compact"}
    return (
        TopicSpec(f"{app_id}-summaries", partitions),
        TopicSpec(f"{app_id}-kpi-partials", partitions),
        *(TopicSpec(f"{app_id}-{table}-changelog", partitions, compacted) for table in STREAMS_TABLES),
        TopicSpec(f"{app_id}-__assignor-__leader", 1),
    )


#: What `motcua stack up` and `motcua stack topics` create: the pipeline and the default streams app's topics.
STACK_TOPICS = PIPELINE_TOPICS + streams_internal_topics()


def ensure_topics(
    bootstrap_servers: str,
    replication: int,
    topics: tuple[TopicSpec, ...] = STACK_TOPICS,
    timeout_ms: int = 30_000,
) -> list[str]:
    """Create missing topics, grow partition counts, and set configs; safe to run any number of times.

    Returns one line per change made (empty when everything already matched).
    """
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=timeout_ms)
    changes: list[str] = []
    try:
        existing = set(admin.list_topics())
        missing = [t for t in topics if t.name not in existing]
        if missing:
            admin.create_topics(
                [NewTopic(t.name, t.partitions, replication, topic_configs=dict(t.configs)) for t in missing],
                timeout_ms=timeout_ms,
            )
            changes += [f"created {t.name} ({t.partitions} partitions, rf {replication})" for t in missing]
        present = [t for t in topics if t.name in existing]
        if present:
            described = {d["name"]: d for d in admin.describe_topics([t.name for t in present])}
            grow = {
                t.name: t.partitions
                for t in present
                if len(described[t.name]["partitions"]) < t.partitions
            }
            if grow:
                admin.create_partitions(grow, timeout_ms=timeout_ms)
                changes += [f"grew {name} to {n} partitions" for name, n in grow.items()]
            drift = _config_drift(admin, [t for t in present if t.configs])
            if drift:
                admin.alter_configs(
                    [ConfigResource(ConfigResourceType.TOPIC, name, configs=cfg) for name, cfg in drift.items()],
                    incremental=True,
                )
                changes += [f"set {name} {cfg}" for name, cfg in drift.items()]
        admin.wait_for_topics([t.name for t in topics], timeout_ms=timeout_ms)
    finally:
        admin.close()
    return changes


def _config_drift(admin: KafkaAdminClient, specs: list[TopicSpec]) -> dict[str, dict[str, str]]:
    """Per topic, the wanted configs whose current (explicitly set) value differs."""
    if not specs:
        return {}
    current = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t.name) for t in specs])["topic"]
    drift = {}
    for t in specs:
        have = {k: v["value"] for k, v in current.get(t.name, {}).items()}
        wrong = {k: v for k, v in t.configs.items() if have.get(k) != v}
        if wrong:
            drift[t.name] = wrong
    return drift
