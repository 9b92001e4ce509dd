"""The tables' SQLite store: the memory store's semantics (start empty, keys per partition, tombstones)."""

from __future__ import annotations

import resource
import sqlite3
from pathlib import Path

import pytest

from streams.store import DiskTable


def test_keys_values_partitions_and_tombstones(tmp_path: Path) -> None:
    table = DiskTable(tmp_path / "t.sqlite")
    table.put(b"a", b"1", 0, 1)
    table.put_many([(b"b", 1, 2, b"2"), (b"c", 1, 3, b"3"), (b"a", 0, 4, None), (b"d", 2, 5, b"4"), (b"a", 0, 6, b"5")])
    assert table[b"a"] == b"5" and table.get(b"zz") is None
    assert dict(table.items()) == {b"a": b"5", b"b": b"2", b"c": b"3", b"d": b"4"}
    assert dict(table.items(1)) == {b"b": b"2", b"c": b"3"}
    assert len(table) == 4 and b"c" in table and b"zz" not in table
    table.keep_partitions({0, 2})  # what faust's memory store does once a recovery completes
    assert sorted(table) == [b"a", b"d"]
    del table[b"d"]
    with pytest.raises(KeyError):
        del table[b"d"]
    assert table.pop(b"a") == b"5" and len(table) == 0


def test_prefix_reads_one_key_range(tmp_path: Path) -> None:
    table = DiskTable(tmp_path / "t.sqlite")
    for version, key in enumerate(
        (b"unit/U1/day/2025-07-01\x0001", b"unit/U1/day/2025-07-01\x0079", b"unit/U1/day/2025-07-02\x0001")
    ):
        table.put(key, key[-2:], 0, version)
    rows = table.with_prefix(b"unit/U1/day/2025-07-01\x00")
    assert [(version, value) for _, version, value in rows] == [(0, b"01"), (1, b"79")]


def test_writes_are_visible_before_commit_and_a_new_run_starts_empty(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    table = DiskTable(path)
    table.put(b"k", b"v", 0, 1)
    assert table[b"k"] == b"v"  # the batch's own reads see its uncommitted writes
    table.commit()
    table.close()
    assert not path.exists()
    path.write_bytes(b"left over by a killed worker")
    assert len(DiskTable(path)) == 0  # a cache of the changelog: never trusted across runs


def test_memory_stays_flat_while_the_table_grows(tmp_path: Path) -> None:
    """200 MB of values through the store: the process grows by its page cache, not by the data."""
    table = DiskTable(tmp_path / "t.sqlite")
    value = bytes(2000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for batch in range(100):
        table.put_many((f"{batch}:{i}".encode(), i % 6, batch, value) for i in range(1000))
        table.commit()
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert len(table) == 100_000
    assert grown_mib < 60, f"grew {grown_mib:.0f} MiB for 200 MB of data"
    with pytest.raises(sqlite3.OperationalError):  # locking_mode=EXCLUSIVE: no second writer
        sqlite3.connect(table.path, timeout=0).execute("BEGIN EXCLUSIVE")


def test_a_late_write_of_an_older_version_never_wins(tmp_path: Path) -> None:
    """A worker the group dropped may still write what it was processing, after the new owner wrote newer
    values: the changelog then ends with the stale write, and a replay must keep the newest version."""
    table = DiskTable(tmp_path / "t.sqlite")
    changelog = [
        (b"D1", 0, 17, b"open"),  # the owner processed offset 17, then 25
        (b"D1", 0, 25, b"finished"),
        (b"D1", 0, 17, b"open"),  # the dropped worker's late write of offset 17
        (b"P1", 0, 30, b"row"),
        (b"P1", 0, 31, None),  # deleted at 31...
        (b"P1", 0, 30, b"row"),  # ...and a late write of 30 does not bring it back
        (b"D2", 0, 40, b"a"),
        (b"D2", 0, 40, b"a again"),  # the same offset read again after a restart: the same version wins
    ]
    table.put_many(changelog)
    assert dict(table.items()) == {b"D1": b"finished", b"D2": b"a again"}
    table.put(b"D1", b"open", 0, 17)
    assert table[b"D1"] == b"finished"


def test_holds_newer_tells_a_record_read_again_after_a_rebuild(tmp_path: Path) -> None:
    table = DiskTable(tmp_path / "t.sqlite")
    table.put(b"D1", b"finished", 0, 25)
    assert table.holds_newer(b"D1", 17) and not table.holds_newer(b"D1", 25) and not table.holds_newer(b"D2", 0)
