"""Everything a batch produces, sent through aiokafka's batch API: a builder per (topic, partition).

faust sends each record as a ``FutureMessage`` through its producer buffer, a task and a future per
record; with one to two output records per event (transitions, table changelog, summaries) that costs more
than the processing itself. Records appended here keep their order within a partition. faust flushes the
same aiokafka producer before it commits offsets, so these records are delivered before the offsets of
the events that caused them are committed (at-least-once, as with faust's own sends).

Every topic written to is registered with the producer's metadata before its first batch. aiokafka fetches
the metadata of *all* topics while its set of tracked topics is empty, and of the tracked ones only as soon
as one is added (``_wait_on_metadata`` adds a topic only when it is missing at send time). A topic first
seen through an all-topics fetch was then dropped from the metadata at the next refresh, and its queued
batches, with no leader known, waited for faust's 20-minute batch expiry: ``flush()`` (faust's commit)
hung. That is how a worker on a freshly wiped stack, whose changelog topics appeared late, never
committed (docs/streams.md, Operations).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from wire.partitioner import key_partition

Headers = list[tuple[str, bytes]]
T = TypeVar("T")


def in_chunks(items: list[T], size: int) -> Iterator[list[T]]:
    """``items`` in consecutive lists of at most ``size`` (records grouped into messages of bounded size)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


class BatchSender:
    def __init__(self, producer: Callable[[], Any]) -> None:
        self._producer = producer  # the started AIOKafkaProducer (faust starts it after this is built)
        self._partition_counts: dict[str, int] = {}
        self._pending: dict[tuple[str, int | None], list[tuple[bytes | None, bytes | None, Headers]]] = {}
        self._tracked: set[str] = set()  # topics registered with the producer's metadata
        self._sending = asyncio.Lock()  # two tasks sending through one sender: in the order they queued

    def add(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None = None,
        headers: Headers | None = None,
    ) -> None:
        """Queue a record; ``partition`` None: the default partitioner on ``key`` picks it when sent."""
        self._pending.setdefault((topic, partition), []).append((key, value, headers or []))

    async def send(self) -> None:
        """Hand every queued record to the producer (delivery completes in the background, or at flush)."""
        async with self._sending:
            await self._send()

    async def _send(self) -> None:
        producer = self._producer()
        pending, self._pending = self._pending, {}
        for topic in {topic for topic, _ in pending} - self._tracked:
            await producer.client.add_topic(topic)  # resolves after a metadata update that includes it
            self._tracked.add(topic)
        by_partition: dict[tuple[str, int], list[tuple[bytes | None, bytes | None, Headers]]] = {}
        for (topic, partition), records in pending.items():
            if partition is not None:
                by_partition.setdefault((topic, partition), []).extend(records)
                continue
            count = self._partition_counts.get(topic)
            if count is None:
                count = self._partition_counts[topic] = len(await producer.partitions_for(topic))
            for record in records:
                assert record[0] is not None, "a record without a key needs an explicit partition"
                by_partition.setdefault((topic, key_partition(record[0], count)), []).append(record)
        for (topic, partition), records in by_partition.items():
            batch = producer.create_batch()
            for key, value, headers in records:
                if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    await _submit(producer, batch, topic, partition)
                    batch = producer.create_batch()
                    if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                        raise ValueError(f"a record of {len(value or b'')} bytes is larger than a producer batch")
            await _submit(producer, batch, topic, partition)


async def _submit(producer: Any, batch: Any, topic: str, partition: int) -> None:
    """Send a complete batch. Closed first: aiokafka lets an open batch linger (50 ms here) for records that
    will never come, and holds the partition's next batch until then; a closed one leaves at once."""
    batch.close()
    await producer.send_batch(batch, topic, partition=partition)
