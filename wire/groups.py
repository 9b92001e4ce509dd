"""Consumer-group queries that wait out the group coordinator's retriable errors.

A broker that has just started (or taken over partitions of ``__consumer_offsets`` from a killed one)
answers group requests with CoordinatorLoadInProgress, CoordinatorNotAvailable or NotCoordinator for a
few seconds. kafka-python's admin client raises them; these helpers retry until ``timeout``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

T = TypeVar("T")

COORDINATOR_TIMEOUT = 60.0
PROBE_GROUP = "motcua.coordinator-probe"  # never joined: only its (empty) offsets are fetched


def retried(call: Callable[[KafkaAdminClient], T], bootstrap: str, timeout: float, client_id: str) -> T:
    """``call`` with a fresh admin client, again after each retriable error until ``timeout`` s have passed."""
    deadline = time.monotonic() + timeout
    pause = 0.1
    while True:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id=client_id)
        try:
            return call(admin)
        except KafkaError as error:
            if not error.retriable or time.monotonic() + pause > deadline:
                raise
        finally:
            admin.close()
        time.sleep(pause)
        pause = min(2.0, pause * 2)


def group_offsets(bootstrap: str, group: str, timeout: float = COORDINATOR_TIMEOUT,
                  client_id: str = "motcua-groups") -> dict[TopicPartition, OffsetAndMetadata]:
    """The group's committed offsets (offset < 0: none committed for that partition)."""
    return retried(lambda admin: admin.list_group_offsets(group).get(group, {}), bootstrap, timeout, client_id)


def log_start_offsets(bootstrap: str, topic: str, partitions: set[int]) -> dict[int, int]:
    """The first offset each partition of ``topic`` holds: where a group that never committed one starts
    reading it (faust's consumers reset to the earliest offset)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        starts = consumer.beginning_offsets([TopicPartition(topic, partition) for partition in partitions])
    finally:
        consumer.close()
    return {tp.partition: offset for tp, offset in starts.items()}


def group_lag(bootstrap: str, group: str, topics: list[str]) -> int | None:
    """Records of ``topics`` the consumer group has not committed yet (None before its first commit)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        committed = group_offsets(bootstrap, group)
        parts = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        ends = consumer.end_offsets(parts)
        lag = 0
        for tp in parts:
            meta = committed.get(tp)
            if ends[tp] and (meta is None or meta.offset < 0):
                return None
            lag += ends[tp] - (meta.offset if meta is not None and meta.offset >= 0 else 0)
        return lag
    finally:
        consumer.close()


def group_states(bootstrap: str, timeout: float = COORDINATOR_TIMEOUT) -> dict[str, str]:
    """Every group's id and state, as the brokers report them ("Stable": its members have their partitions)."""
    return retried(lambda admin: {g["group_id"]: g["group_state"] for g in admin.list_groups()}, bootstrap, timeout,
                   "motcua-groups")


def coordinator_ready(bootstrap: str) -> bool:
    """Group requests succeed on every broker now (the first one also creates ``__consumer_offsets``)."""
    try:
        retried(lambda admin: (admin.list_group_offsets(PROBE_GROUP), admin.list_groups()), bootstrap, 0.0,
                 "motcua-stack")
    except KafkaError as error:
        if not error.retriable:
            raise
        return False
    return True
