"""Produce and consume through the real local Kafka with both client libraries the pipeline uses."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import (
    CoordinatorLoadInProgressError,
    CoordinatorNotAvailableError,
    GroupAuthorizationFailedError,
    NotCoordinatorError,
)

from wire.groups import coordinator_ready, group_offsets, retried
from wire.topics import PIPELINE_TOPICS, TopicSpec, ensure_topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

MESSAGES = 2_000
KEYS = 50


def _create_topic(bootstrap: str, name: str, partitions: int = 3) -> None:
    ensure_topics(bootstrap, 1, (TopicSpec(name, partitions),))


def _messages() -> list[tuple[bytes, bytes]]:
    """Keyed like dossier events: one key's values carry an increasing sequence number."""
    return [(f"dossier-{i % KEYS}".encode(), f"{i % KEYS}:{i // KEYS}".encode()) for i in range(MESSAGES)]


def _assert_per_key_order(received: list[tuple[bytes, bytes]]) -> None:
    assert len(received) == MESSAGES
    by_key: dict[bytes, list[int]] = defaultdict(list)
    for key, value in received:
        by_key[key].append(int(value.split(b":")[1]))
    assert len(by_key) == KEYS
    for seqs in by_key.values():
        assert seqs == sorted(seqs) == list(range(MESSAGES // KEYS))


def test_pipeline_topics_exist_with_their_settings(kafka_bootstrap: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        described = {t["name"]: t for t in admin.describe_topics([t.name for t in PIPELINE_TOPICS])}
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "dossier.kpis")])["topic"]
    finally:
        admin.close()
    for spec in PIPELINE_TOPICS:
        assert described[spec.name]["error_code"] == 0
        assert len(described[spec.name]["partitions"]) == spec.partitions
    assert len(described["dossier.events"]["partitions"]) == 6
    assert configs["dossier.kpis"]["cleanup.policy"]["value"] == "compact"


def test_clients_creating_the_same_topics_at_once_all_succeed(kafka_bootstrap: str, unique_name: str) -> None:
    """Two stages' workers start together and create the topics between them: neither may fail on the other's."""
    specs = tuple(TopicSpec(f"{unique_name}-{i}", 2, {"cleanup.policy": "compact"}) for i in range(6))
    with ThreadPoolExecutor(4) as pool:
        changes = list(pool.map(lambda _: ensure_topics(kafka_bootstrap, 1, specs), range(4)))
    created = [line for lines in changes for line in lines if line.startswith("created ")]
    assert sorted(created) == sorted(f"created {s.name} (2 partitions, rf 1)" for s in specs)  # once each
    assert ensure_topics(kafka_bootstrap, 1, specs) == []


def test_kafka_python_produce_and_consume(kafka_bootstrap: str, unique_name: str) -> None:
    _create_topic(kafka_bootstrap, unique_name)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    for key, value in _messages():
        producer.send(unique_name, key=key, value=value)
    producer.flush(timeout=60)
    producer.close()

    consumer = KafkaConsumer(
        unique_name,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"{unique_name}-g",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=15_000,
    )
    received = []
    for record in consumer:
        received.append((record.key, record.value))
        if len(received) == MESSAGES:
            break
    consumer.commit()
    consumer.close()
    _assert_per_key_order(received)


async def _aio_produce(bootstrap: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        batch = [await producer.send(topic, key=key, value=value) for key, value in _messages()]
        await asyncio.gather(*batch)
    finally:
        await producer.stop()


async def _aio_consume(bootstrap: str, topic: str, group_id: str | None = None) -> list[tuple[bytes, bytes]]:
    """Read MESSAGES records from the start; with a group, commit its offsets at the end."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=group_id, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    received: list[tuple[bytes, bytes]] = []
    try:
        async with asyncio.timeout(60):
            while len(received) < MESSAGES:
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    received += [(r.key, r.value) for r in records]
        if group_id:
            await consumer.commit()
    finally:
        await consumer.stop()
    return received


def test_aiokafka_produce_and_consume(kafka_bootstrap: str, unique_name: str) -> None:
    _create_topic(kafka_bootstrap, unique_name)
    asyncio.run(_aio_produce(kafka_bootstrap, unique_name))
    _assert_per_key_order(asyncio.run(_aio_consume(kafka_bootstrap, unique_name, group_id=f"{unique_name}-g")))


def test_kafka_python_producer_aiokafka_consumer(kafka_bootstrap: str, unique_name: str) -> None:
    """The two libraries agree on the wire: keys, values and per-key order survive the crossing."""
    _create_topic(kafka_bootstrap, unique_name, partitions=6)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for key, value in _messages():
        producer.send(unique_name, key=key, value=value)
    producer.flush(timeout=60)
    producer.close()

    _assert_per_key_order(asyncio.run(_aio_consume(kafka_bootstrap, unique_name)))


def test_group_queries_wait_out_retriable_coordinator_errors_only(kafka_bootstrap: str, unique_name: str) -> None:
    failures = [CoordinatorLoadInProgressError(), NotCoordinatorError()]

    def flaky(admin: KafkaAdminClient) -> dict[str, object]:
        if failures:
            raise failures.pop(0)
        return admin.list_group_offsets(unique_name)

    assert retried(flaky, kafka_bootstrap, 30.0, "test") == {unique_name: {}} and not failures
    with pytest.raises(GroupAuthorizationFailedError):  # not retriable: raised at once
        retried(lambda _: (_ for _ in ()).throw(GroupAuthorizationFailedError()), kafka_bootstrap, 30.0, "test")
    failures.extend([CoordinatorNotAvailableError()] * 100)
    with pytest.raises(CoordinatorNotAvailableError):  # retriable, but only until the timeout
        retried(flaky, kafka_bootstrap, 1.0, "test")
    assert coordinator_ready(kafka_bootstrap)
    assert group_offsets(kafka_bootstrap, unique_name) == {}
