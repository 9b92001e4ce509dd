"""Worker configuration from the environment: defaults, overrides; the DLQ headers the worker writes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from dossier.contract import Violation
from streams.app import StreamsApp
from streams.config import StreamsConfig, internal_topics
from streams.store import disk_table
from wire.dlq import dlq_headers, reason_text
from wire.settings import Settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "MOTCUA_STREAMS_APP_ID",
        "MOTCUA_STREAMS_TOPIC_PREFIX",
        "MOTCUA_KAFKA_BOOTSTRAP",
    ):
        monkeypatch.delenv(name, raising=False)
    config = StreamsConfig.from_env()
    assert config.app_id == "motcua-streams"
    assert config.topics.events == "dossier.events" and config.topics.kpis == "dossier.kpis"
    assert config.summaries_topic == "motcua-streams-summaries"
    assert config.partitions == 6 and config.batch == 2000 and config.kpi_interval == 1.0
    assert config.cache == 50_000
    assert config.compression == "gzip"
    assert config.bootstrap == Settings().bootstrap_servers()  # the local stack's address API


def test_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTCUA_STREAMS_APP_ID", "a1")
    monkeypatch.setenv("MOTCUA_STREAMS_TOPIC_PREFIX", "t.")
    monkeypatch.setenv("MOTCUA_STREAMS_CACHE", "1000")
    monkeypatch.setenv("MOTCUA_STREAMS_COMPRESSION", "none")
    monkeypatch.setenv("MOTCUA_STREAMS_UNIT_ALERT_RATE", "0.5")
    monkeypatch.setenv("MOTCUA_KAFKA_BOOTSTRAP", "kafka:9092")
    config = StreamsConfig.from_env()
    assert config.topics.alerts == "t.dossier.alerts" and config.partials_topic == "a1-kpi-partials"
    assert config.cache == 1000 and config.compression is None
    assert config.unit_alert_rate == 0.5 and config.bootstrap == "kafka:9092"


def test_dlq_headers_name_every_violation_and_where_the_record_was_read() -> None:
    violations = [Violation("type", "unknown event type"), Violation("unit", "missing")]
    headers = dict(dlq_headers(reason_text(violations), stage="validate", source="streams", topic="dossier.events",
                               partition=3, offset=41, at=1767225600))  # 2026-01-01T00:00:00Z
    assert headers == {
        "motcua.errors.reason": b"type: unknown event type; unit: missing",
        "motcua.errors.stage": b"validate",
        "motcua.errors.topic": b"dossier.events",
        "motcua.errors.partition": b"3",
        "motcua.errors.offset": b"41",
        "motcua.errors.source": b"streams",
        "motcua.errors.at": b"2026-01-01T07:00:00+07:00",
    }


def test_a_stage_run_alone_is_a_group_of_its_own_sharing_the_topics_between_the_stages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MOTCUA_STREAMS_APP_ID", "a1")
    names = {}
    for stages in ("all", "dossiers", "kpis"):
        monkeypatch.setenv("MOTCUA_STREAMS_STAGES", stages)
        config = StreamsConfig.from_env()
        names[stages] = {spec.name for spec in internal_topics(config)}
        assert config.summaries_topic == "a1-summaries" and config.partials_topic == "a1-kpi-partials"
        assert config.group_id == ("a1" if stages == "all" else f"a1-{stages}")
    shared = {"a1-summaries", "a1-kpi-partials"}
    assert shared < names["dossiers"] and shared < names["kpis"]
    assert "a1-dossiers-dossiers-changelog" in names["dossiers"] and "a1-kpis-__assignor-__leader" in names["kpis"]
    assert names["all"] - shared == {"a1-dossiers-changelog", "a1-kpi-summaries-changelog",
                                     "a1-kpi-partials-changelog", "a1-__assignor-__leader"}
    monkeypatch.setenv("MOTCUA_STREAMS_STAGES", "rollup")
    with pytest.raises(ValueError, match="one of all, dossiers, kpis"):
        StreamsConfig.from_env()


def test_the_worker_consumer_lets_the_broker_hold_a_fetch_only_the_configured_time(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """faust builds its consumer with a fixed 1.5 s (streams/fetching.py); the worker's consumer waits 0.1 s."""
    monkeypatch.setenv("MOTCUA_STREAMS_DATADIR", str(tmp_path))
    monkeypatch.setenv("MOTCUA_KAFKA_FETCH_WAIT", "0.25")
    app = StreamsApp(StreamsConfig.from_env()).app

    async def created() -> Any:  # aiokafka objects are made inside a running loop
        return app.consumer._thread._create_worker_consumer(app.transport)

    assert asyncio.run(created())._fetch_max_wait_ms == 250


def test_the_table_page_caches_share_the_configured_memory_the_dossiers_the_most(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The page caches keep the active dossiers' pages in the process (streams/store.py says why)."""
    monkeypatch.setenv("MOTCUA_STREAMS_DATADIR", str(tmp_path))
    monkeypatch.setenv("MOTCUA_STREAMS_TABLE_CACHE_MIB", "40")
    worker = StreamsApp(StreamsConfig.from_env())

    def cache_kib(table: Any) -> int:
        return -int(disk_table(table)._db.execute("PRAGMA cache_size").fetchone()[0])

    caches = [cache_kib(t) for t in (worker.dossiers, worker.summaries, worker.partials)]
    assert caches == [28 * 1024, 8 * 1024, 4 * 1024]
    monkeypatch.setenv("MOTCUA_STREAMS_TABLE_CACHE_MIB", "-40")  # "cache_size=--40" is an SQL comment: ignored
    with pytest.raises(ValidationError, match="MOTCUA_STREAMS_TABLE_CACHE_MIB"):
        StreamsConfig.from_env()
