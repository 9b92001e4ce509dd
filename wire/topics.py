"""The pipeline's Kafka topics (docs/topics.md): their names under an optional prefix, their partitions and
configs, and their idempotent creation with kafka-python's admin client.

The log of record and its DLQ are kept forever (replay/audit reads any range); the KPI topic is compacted
(latest row per key = per scope and period). Partition counts: 6 lets up to 6 faust workers or sinks
share a topic; a partition count can later grow, never shrink (keys would move).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

FOREVER = "-1"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Topics:
    """The five pipeline topics, ``<prefix>dossier.<role>`` (tests and benchmarks run on prefixed copies)."""

    events: str
    dlq: str
    transitions: str
    kpis: str
    alerts: str

    @classmethod
    def with_prefix(cls, prefix: str = "") -> Topics:
        return cls(*(f"{prefix}dossier.{role}" for role in ROLES))

    def specs(self) -> tuple[TopicSpec, ...]:
        """The topics to create, with their partition counts and configs."""
        return tuple(TopicSpec(getattr(self, role), *_LAYOUT[role]) for role in ROLES)


ROLES: tuple[str, ...] = tuple(f.name for f in fields(Topics))  # events, dlq, transitions, kpis, alerts
_LAYOUT: dict[str, tuple[int, dict[str, str]]] = {
    "events": (6, {"retention.ms": FOREVER}),
    "dlq": (1, {"retention.ms": FOREVER}),
    "transitions": (6, {}),
    "kpis": (6, {"cleanup.policy": "compact"}),
    "alerts": (3, {}),
}

TOPICS = Topics.with_prefix()
PIPELINE_TOPICS: tuple[TopicSpec, ...] = TOPICS.specs()


#: The streams worker's faust tables; faust names a table's changelog ``<app id>-<table>-changelog``.
STREAMS_TABLES = ("dossiers", "kpi-summaries", "kpi-partials")
STREAMS_APP_ID = "motcua-streams"


def summaries_topic(app_id: str) -> str:
    """The streams' internal topic of dossier summaries re-keyed by province (and watermarks)."""
    return f"{app_id}-summaries"


def partials_topic(app_id: str) -> str:
    """The streams' internal topic of each province's KPI rows re-keyed by row key, for the rollup."""
    return f"{app_id}-kpi-partials"


def streams_internal_topics(
    app_id: str = STREAMS_APP_ID, partitions: int = 6, group_id: str | None = None
) -> tuple[TopicSpec, ...]:
    """Every topic a streams worker of ``app_id`` reads or writes besides the pipeline's, created up front.

    The topics between its stages (named by ``app_id``), the tables' changelogs (compacted, like faust's own)
    and faust's leader topic (named by ``group_id``, faust's app id: ``app_id`` unless the worker runs one
    stage, ``streams.config``). With broker auto-creation off, nothing is created behind the worker's back
    with one partition.
    """
    group_id = group_id or app_id
    compacted = {"cleanup.policy": "compact"}
    return (
        TopicSpec(summaries_topic(app_id), partitions),
        TopicSpec(partials_topic(app_id), partitions),
        *(TopicSpec(f"{group_id}-{table}-changelog", partitions, compacted) for table in STREAMS_TABLES),
        TopicSpec(f"{group_id}-__assignor-__leader", 1),
    )


def notify_topics(prefix: str = "") -> tuple[TopicSpec, ...]:
    """The notifier's (``motcua notify``, docs/topics.md): its inbox of acknowledgements and Grafana alerts, keyed
    by ``alert_id`` with as many partitions as the alerts topic (so that a range assignment gives one notifier
    both partitions of an alert), and its DLQ of pages that could not be delivered, kept forever."""
    return (
        TopicSpec(f"{prefix}dossier.notify-inbox", _LAYOUT["alerts"][0]),
        TopicSpec(f"{prefix}dossier.notify-dlq", 1, {"retention.ms": FOREVER}),
    )


#: What `motcua stack up` and `motcua stack topics` create: the pipeline's, the default streams app's and the
#: notifier's topics.
STACK_TOPICS = PIPELINE_TOPICS + streams_internal_topics() + notify_topics()


def replication_for(bootstrap_servers: str, timeout_ms: int = 30_000) -> int:
    """The replication factor for topics a client creates: one per broker of the cluster, at most 3.

    So that the streams worker's internal topics and changelogs survive a broker as the pipeline's do
    (`motcua stack up --brokers 3` and compose create those with the cluster's size too).
    """
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=timeout_ms)
    try:
        return max(1, min(3, len(admin.describe_cluster()["brokers"])))
    finally:
        admin.close()


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
            created = admin.create_topics(
                [NewTopic(t.name, t.partitions, replication, topic_configs=dict(t.configs)) for t in missing],
                timeout_ms=timeout_ms,
                raise_errors=False,
            )
            # another client (a worker of the other stage, say) may create the same topics at the same moment
            codes = {r["name"]: r["error_code"] for r in created["topics"]}
            if failed := {n: c for n, c in codes.items() if c not in (0, TopicAlreadyExistsError.errno)}:
                raise KafkaError(f"creating topics failed: {failed} (Kafka error codes)")
            changes += [f"created {t.name} ({t.partitions} partitions, rf {replication})"
                        for t in missing if codes.get(t.name) == 0]
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
