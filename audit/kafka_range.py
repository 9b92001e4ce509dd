"""A range of the log of record (``dossier.events``), read without a consumer group.

The consumer is built with ``group_id=None``: it assigns itself the partitions it reads and seeks, never
joins a group and never commits, so no live consumer group's offsets move (``tests/audit`` checks it).
A range is, per partition, [start, end): from the partition's first offset (or ``--offsets``) to the first
offset whose record timestamp is at or past an instant, found with ``offsets_for_times``, or to the
partition's end when no record is that late (``until`` None: the end as the range is taken).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka import TopicPartition as AioTopicPartition
from kafka import KafkaConsumer, TopicPartition

from wire.runtime import aiokafka_consumer, use_fast_gzip

OFFSETS_PATTERN = re.compile(r"^(\d+):(\d+)-(\d*)$")
_SLICE = 2_000
"""Records handed over at a time: the event loop runs between slices, so fetching overlaps processing."""
PARTITION_BITS = 48
"""A record's number in the audit is ``partition << 48 | offset``."""


@dataclass(frozen=True, slots=True)
class PartitionRange:
    """The offsets [start, end) of one partition."""

    partition: int
    start: int
    end: int

    def __len__(self) -> int:
        return max(0, self.end - self.start)


def record_number(partition: int, offset: int) -> int:
    return partition << PARTITION_BITS | offset


def describe_number(number: int) -> str:
    """``partition P offset O`` of a record number."""
    return f"partition {number >> PARTITION_BITS} offset {number & ((1 << PARTITION_BITS) - 1)}"


def parse_offsets(text: str) -> dict[int, tuple[int, int | None]]:
    """``P:A-B,P:A-`` -> {P: (A, B)} (B excluded; absent: to the end of the range). ``ValueError`` saying why."""
    ranges: dict[int, tuple[int, int | None]] = {}
    for part in text.split(","):
        match = OFFSETS_PATTERN.match(part.strip())
        if match is None:
            raise ValueError(f"{part.strip()!r} is not P:A-B (partition, first offset, offset after the last)")
        partition, first, after = int(match[1]), int(match[2]), int(match[3]) if match[3] else None
        if after is not None and after < first:
            raise ValueError(f"{part.strip()!r}: the range ends before it starts")
        if partition in ranges:
            raise ValueError(f"partition {partition} is given twice")
        ranges[partition] = (first, after)
    return ranges


def consumer(bootstrap: str | None = None, **options: object) -> AIOKafkaConsumer:
    """A consumer of no group that never commits (the only kind the audit reads records with)."""
    use_fast_gzip()
    return aiokafka_consumer(bootstrap=bootstrap, group_id=None, enable_auto_commit=False, **options)


async def stop(client: AIOKafkaConsumer) -> None:
    """Stop a consumer; aiokafka's no-group coordinator raises when stopped before its task first ran."""
    await asyncio.sleep(0)
    await client.stop()


def log_ranges(
    bootstrap: str,
    topic: str,
    until_ms: int | None,
    offsets: dict[int, tuple[int, int | None]] | None = None,
) -> tuple[list[PartitionRange], list[PartitionRange]]:
    """The range of every partition of ``topic`` (those of ``offsets`` only, when given, within them), and
    the whole log's ranges now (to tell what the range leaves out).

    Raises ``LookupError`` when the topic does not exist or ``offsets`` names a partition it does not have,
    kafka-python's ``KafkaError`` when Kafka cannot be reached.
    """
    client = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                           request_timeout_ms=15_000)
    try:
        partitions = client.partitions_for_topic(topic)
        if not partitions:
            raise LookupError(f"topic {topic!r} does not exist")
        if offsets is not None:
            unknown = sorted(set(offsets) - partitions)
            if unknown:
                raise LookupError(f"topic {topic!r} has no partition {', '.join(map(str, unknown))}")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        beginnings, ends = client.beginning_offsets(tps), client.end_offsets(tps)
        found = client.offsets_for_times({tp: until_ms for tp in tps}) if until_ms is not None else {}
    finally:
        client.close()
    whole = [PartitionRange(tp.partition, beginnings[tp], ends[tp]) for tp in tps]
    ranges = []
    for tp in tps:
        start, end = beginnings[tp], ends[tp] if found.get(tp) is None else found[tp].offset
        if offsets is not None:
            if tp.partition not in offsets:
                continue
            first, after = offsets[tp.partition]
            start, end = max(start, first), end if after is None else min(end, after)
        ranges.append(PartitionRange(tp.partition, start, max(start, end)))
    return ranges, whole


async def read_ranges(
    client: AIOKafkaConsumer,
    topic: str,
    ranges: Iterable[PartitionRange],
    on_batch: Callable[[int, list[ConsumerRecord[bytes, bytes]], int], None],
    batch_records: int = 20_000,
) -> None:
    """Every record of the ranges, batch by batch, in offset order per partition:
    ``on_batch(partition, records, records read of the partition so far)``."""
    todo = {AioTopicPartition(topic, r.partition): r for r in ranges if len(r)}
    if not todo:
        return
    client.assign(list(todo))
    for tp, r in todo.items():
        client.seek(tp, r.start)
    while todo:
        batches = await client.getmany(*todo, timeout_ms=1000, max_records=batch_records)
        for tp, records in batches.items():
            r = todo.get(tp)
            if r is None or not records:
                continue
            if records[-1].offset >= r.end:
                records = [record for record in records if record.offset < r.end]
            for first in range(0, len(records), _SLICE):
                part = records[first : first + _SLICE]
                on_batch(tp.partition, part, min(r.end, part[-1].offset + 1) - r.start)
                await asyncio.sleep(0)  # let the fetcher receive and ask for more while records are processed
        for tp in [tp for tp, r in todo.items() if await client.position(tp) >= r.end]:
            client.pause(tp)
            del todo[tp]
