"""Kafka's default partitioner, computed here so that a record's partition is known before it is sent."""

from __future__ import annotations

from functools import lru_cache

from kafka.partitioner.default import murmur2


@lru_cache(maxsize=1 << 16)
def key_partition(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (murmur2) on a key, as the Java client and aiokafka compute it.

    Cached: murmur2 is pure Python (the largest single cost of a producer's send), a dossier has many
    events, and the KPI rows' keys come back at every emission.
    """
    return (murmur2(key) & 0x7FFFFFFF) % partitions
