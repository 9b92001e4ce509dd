"""Grouping records by dossier in bounded memory gives exactly what grouping them in memory gives."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.dossiers import DossierPass
from audit.spill import Buckets
from tests.domain.event_factory import event_stream

NOISE = [b"", b"   ", b"{oops", b"[1]", b'{"schema":"clock-tick/1","at":"2025-07-01T00:00:00+07:00"}',
         b'{"schema":"clock-tick/1"}', b'{"schema":"dossier-event/1","event_id":"x","dossier_id":"D0-0","type":"xx"}',
         b'{"schema":"clock-tick/1","at":"2025-07-01T00:00:00+07:00","dossier_id":"D0-0"}']


def records(seed: int, dossiers: int) -> list[bytes]:
    """A shuffled stream with duplicates (some with other contents: the first received wins) and noise."""
    rng = random.Random(seed)
    events = event_stream(seed, dossiers)
    lines = [orjson.dumps(e) for e in events]
    lines += [orjson.dumps({**e, "officer": "a repeat"}) for e in rng.sample(events, len(events) // 10)]
    lines += rng.choices(NOISE, k=len(events) // 8)
    rng.shuffle(lines)
    return lines


def grouped(
    lines: list[bytes], bucket_bytes: int, tmp_path: Path, expected_bytes: int | None = None
) -> tuple[Any, ...]:
    """``expected_bytes``: the size announced up front (default: the true one; 0: unknown, as from a pipe)."""
    reports: list[int] = []
    expected = len(b"".join(lines)) if expected_bytes is None else expected_bytes
    with DossierPass(expected, lambda n, v: reports.append(n), tmp_path, bucket_bytes) as dossiers:
        for number, line in enumerate(lines, 1):
            dossiers.add(number, line)
        groups = sorted(tuple((e.record.event_id, e.record.officer or "") for e in g) for g in dossiers.dossiers())
    return groups, sorted(reports), dossiers.stats


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), dossiers=st.integers(1, 60), bucket_bytes=st.sampled_from([300, 2_000, 20_000]))
def test_spilled_groups_equal_groups_in_memory(tmp_path: Path, seed: int, dossiers: int, bucket_bytes: int) -> None:
    lines = records(seed, dossiers)
    assert grouped(lines, bucket_bytes, tmp_path) == grouped(lines, 1 << 30, tmp_path)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), dossiers=st.integers(20, 60))
def test_a_stream_of_unknown_size_spills_midway_into_the_same_groups(tmp_path: Path, seed: int, dossiers: int) -> None:
    """One bucket in memory, spilled to disk once it outgrows its size: records before and after the spill
    land in the same dossier's group."""
    lines = records(seed, dossiers)
    assert grouped(lines, 2_000, tmp_path, expected_bytes=0) == grouped(lines, 1 << 30, tmp_path)


def test_a_dossiers_events_come_together_first_received_first(tmp_path: Path) -> None:
    lines = records(3, 200)
    first: dict[tuple[str, str], tuple[int, str | None]] = {}
    for number, line in enumerate(lines, 1):
        event = orjson.loads(line) if line.startswith(b'{"schema":"dossier-event/1","dossier_id"') else None
        if event is not None and "source" in event:
            first.setdefault((event["dossier_id"], event["event_id"]), (number, event.get("officer")))
    with DossierPass(len(b"".join(lines)), lambda n, v: None, tmp_path, 4_000) as dossiers:
        for number, line in enumerate(lines, 1):
            dossiers.add(number, line)
        assert dossiers._buckets.count > 10
        kept, seen = 0, set()
        for group in dossiers.dossiers():
            assert len({e.record.dossier_id for e in group}) == 1
            assert group[0].record.dossier_id not in seen, "one group a dossier, never split between parts"
            seen.add(group[0].record.dossier_id)
            arrivals = [first[e.record.dossier_id, e.record.event_id] for e in group]
            assert arrivals == sorted(arrivals)  # arrival order
            assert [officer for _, officer in arrivals] == [e.record.officer for e in group]  # the first one won
            kept += len(group)
    assert kept == len(first)
    assert not list(tmp_path.iterdir()), "the spill directory is removed"


def test_invalid_records_are_reported_in_line_order_when_nothing_spills(tmp_path: Path) -> None:
    lines = records(5, 30)
    reports: list[int] = []
    with DossierPass(0, lambda n, v: reports.append(n), tmp_path) as dossiers:
        for number, line in enumerate(lines, 1):
            dossiers.add(number, line)
        list(dossiers.dossiers())
    assert reports == sorted(reports) and len(reports) == dossiers.stats.invalid > 0


def test_buckets_split_again_when_they_come_out_larger_than_planned(tmp_path: Path) -> None:
    with Buckets(1, tmp_path, bucket_bytes=1_000, flush_records=10) as buckets:
        for i in range(2_000):
            buckets.add(hash(f"D{i % 300}"), i, b"x" * (i % 7 + 1))
        assert buckets.count > 1  # one bucket in memory grew past twice its size: it spilled
        seen = []
        for parts in buckets.drain():
            records = [(part.numbers[i], part.record(i)) for part in parts for i in range(len(part))]
            assert len(records) * 4 <= 3_000
            seen += records
    assert sorted(seen) == [(i, b"x" * (i % 7 + 1)) for i in range(2_000)]


def test_the_records_held_between_writes_are_bounded_whatever_the_number_of_buckets(tmp_path: Path) -> None:
    """With many buckets, ``flush_records`` each would hold memory in proportion to the input: the bytes held
    are capped, and every record still comes back in its dossier's bucket, in arrival order."""
    with Buckets(400, tmp_path, bucket_bytes=1_000, flush_records=1024, flush_bytes=5_000) as buckets:
        for i in range(3_000):
            buckets.add(hash(f"D{i % 700}"), i, b"x" * (i % 7 + 1))
            assert sum(map(len, buckets._records)) < 5_000
        seen = {}
        for parts in buckets.drain():
            for part in parts:
                for i in range(len(part)):
                    seen.setdefault(part.tags[i], []).append((part.numbers[i], part.record(i)))
    assert sorted(seen.values()) == sorted(
        [[(i, b"x" * (i % 7 + 1)) for i in range(d, 3_000, 700)] for d in range(700)]
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tags=st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=12),
    picks=st.lists(st.tuples(st.integers(0, 11), st.binary(max_size=9)), max_size=300),
    count=st.integers(2, 5),
    parts=st.integers(1, 9),
    flush_records=st.integers(1, 20),
)
def test_every_part_read_back_is_its_records_in_arrival_order_and_their_json_array(
    tmp_path: Path, tags: list[int], picks: list[tuple[int, bytes]], count: int, parts: int, flush_records: int
) -> None:
    """Whatever the blocks and parts (empty ones included), a part is its records with their numbers and tags,
    each tag's records in arrival order, and its ``data`` the array of them: ``[r1,r2,...]``."""
    added = [(tags[t % len(tags)], number, record) for number, (t, record) in enumerate(picks)]
    with Buckets(count, tmp_path, flush_records=flush_records, parts=parts, resplit=False) as buckets:
        for tag, number, record in added:
            buckets.add(tag, number, record)
        seen: dict[int, list[tuple[int, bytes]]] = {}
        for bucket_parts in buckets.drain():
            for part in bucket_parts:
                records = [part.record(i) for i in range(len(part))]
                assert part.data == b"[" + b",".join(records) + b"]"
                for i, record in enumerate(records):
                    seen.setdefault(part.tags[i], []).append((part.numbers[i], record))
    expected: dict[int, list[tuple[int, bytes]]] = {}
    for tag, number, record in added:
        expected.setdefault(tag, []).append((number, record))
    assert seen == expected


def test_loading_the_spill_starts_no_thread_pool() -> None:
    """numpy's OpenBLAS would start a thread per core that spins at every start-up (~0.1 s of CPU per command)."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    code = "import os, audit.spill; print(len(os.listdir('/proc/self/task')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env,
                         cwd=Path(__file__).parents[2]).stdout
    assert out.split() == ["1"]
