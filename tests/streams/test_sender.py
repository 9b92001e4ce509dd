"""The worker's sender: its partitioner agrees with the Kafka clients', its batches leave without lingering."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from streams.sender import BatchSender, in_chunks
from wire.partitioner import key_partition
from wire.topics import TopicSpec, ensure_topics


@given(st.binary(min_size=1, max_size=80), st.integers(min_value=1, max_value=64))
def test_key_partition_is_aiokafkas_default_partitioner(key: bytes, partitions: int) -> None:
    every = list(range(partitions))
    assert key_partition(key, partitions) == DefaultPartitioner()(key, every, every)


def test_key_partition_is_stable_across_cached_calls() -> None:
    keys = [f"unit/{i}/day/2025-01-{i % 28 + 1:02d}".encode() for i in range(500)]
    first = [key_partition(k, 6) for k in keys]
    assert [key_partition(k, 6) for k in keys] == first
    assert {key_partition(k, 3) for k in keys} == {0, 1, 2}


def test_in_chunks_keeps_order_and_bounds_sizes() -> None:
    items = list(range(1001))
    chunks = list(in_chunks(items, 400))
    assert [len(c) for c in chunks] == [400, 400, 201]
    assert [x for c in chunks for x in c] == items


@pytest.mark.integration
def test_sent_batches_do_not_wait_for_the_producers_linger(kafka_bootstrap: str, unique_name: str) -> None:
    """Every batch the sender hands over is complete: it must leave at once, not after ``linger_ms``."""
    ensure_topics(kafka_bootstrap, 1, (TopicSpec(unique_name, 2, {}),))

    async def delivery_seconds() -> float:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=3000)
        await producer.start()
        try:
            sender = BatchSender(lambda: producer)
            await producer.send_and_wait(unique_name, b"warm-up", key=b"k", partition=0)
            started = time.monotonic()
            for i in range(100):
                sender.add(unique_name, f"k{i}".encode(), b"v", i % 2)
            await sender.send()
            await producer.flush()  # returns when every batch handed over is delivered
            return time.monotonic() - started
        finally:
            await producer.stop()

    assert asyncio.run(delivery_seconds()) < 1.5


@pytest.mark.integration
def test_a_topic_written_to_stays_in_the_producers_metadata(kafka_bootstrap: str, unique_name: str) -> None:
    """The root cause of the worker that never committed (docs/streams.md, Operations).

    aiokafka fetches every topic's metadata while it tracks none (a worker's producer was seen in that
    state: faust fetches all topics before the first send), and only the tracked ones once one is added.
    Topic ``a`` is known from such a fetch, so sending to it tracks nothing; ``b`` is created later, so the
    first send to it makes the producer track ``b``, and the next metadata refresh drops ``a``: batches
    queued for ``a`` then have no leader and wait for the batch expiry (20 minutes in faust), and so does
    ``flush()``. The sender registers every topic it writes to, so ``a`` stays known.
    """
    a, b = f"{unique_name}.a", f"{unique_name}.b"
    ensure_topics(kafka_bootstrap, 1, (TopicSpec(a, 2),))

    async def partitions_of_a_after_b() -> set[int] | None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            await producer.client.force_metadata_update()  # tracking no topic: the metadata of all of them
            sender = BatchSender(lambda: producer)
            sender.add(a, b"k", b"v", 1)
            await sender.send()
            await producer.flush()
            await asyncio.to_thread(ensure_topics, kafka_bootstrap, 1, (TopicSpec(b, 1),))
            sender.add(b, b"k", b"v", 0)
            await sender.send()
            await asyncio.wait_for(producer.flush(), 30)
            await producer.client.force_metadata_update()
            known = producer.client.cluster.partitions_for_topic(a)
            sender.add(a, b"k", b"v", 1)
            await sender.send()
            await asyncio.wait_for(producer.flush(), 30)
            return known
        finally:
            await producer.stop()

    assert asyncio.run(partitions_of_a_after_b()) == {0, 1}
