"""The sink's consumer settings (no stack needed)."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer

from sinks.config import SinkConfig
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
