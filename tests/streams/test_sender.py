"""The worker's partitioner must agree with the Kafka clients', or keyed records would land elsewhere."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from streams.sender import in_chunks, key_partition


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
