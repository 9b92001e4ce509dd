"""Worker configuration from the environment: defaults, overrides; the DLQ headers the worker writes."""

from __future__ import annotations

import pytest

from dossier.contract import Violation
from streams.config import StreamsConfig
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
