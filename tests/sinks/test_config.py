"""The sink's settings: its consumer's, the topics it lands (no stack needed)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from aiokafka import AIOKafkaConsumer

from sinks.cli import _roles
from sinks.config import ROLES, SinkConfig
from sinks.service import consumer


def test_the_sink_consumer_lets_the_broker_hold_a_fetch_only_the_configured_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker's and the sink's consumers share MOTCUA_KAFKA_FETCH_WAIT (aiokafka's own default is 0.5 s)."""

    async def created(config: SinkConfig) -> AIOKafkaConsumer:  # aiokafka objects are made inside a running loop
        return consumer(config)

    monkeypatch.delenv("MOTCUA_KAFKA_FETCH_WAIT", raising=False)
    assert asyncio.run(created(SinkConfig(bootstrap="127.0.0.1:1")))._fetch_max_wait_ms == 100
    monkeypatch.setenv("MOTCUA_KAFKA_FETCH_WAIT", "0.25")
    assert asyncio.run(created(SinkConfig(bootstrap="127.0.0.1:1")))._fetch_max_wait_ms == 250


def test_topics_name_the_roles_a_sink_lands_and_only_the_sink_of_the_transitions_sweeps() -> None:
    assert _roles(" alerts,kpis ") == ("kpis", "alerts")  # the sink's own order, spaces ignored
    assert _roles(",".join(ROLES)) == ROLES
    with pytest.raises(typer.BadParameter, match="kafka: the topics are events, transitions, kpis, alerts, dlq"):
        _roles("kpis,kafka")
    with pytest.raises(typer.BadParameter, match="none given"):
        _roles(" , ")
    assert SinkConfig(roles=("events", "transitions", "dlq")).lands_transitions
    assert not SinkConfig(roles=("kpis", "alerts")).lands_transitions


def test_an_unknown_topic_is_refused_before_the_sink_starts() -> None:
    done = subprocess.run([str(Path(sys.executable).parent / "motcua"), "sink", "--topics", "kpi"],
                          capture_output=True, text=True, timeout=60, check=False)
    said = " ".join(done.stderr.replace("│", " ").split())  # typer's error box, unwrapped
    assert done.returncode == 2 and "Invalid value for --topics: kpi: the topics are events," in said
