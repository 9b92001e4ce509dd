"""Records grouped by dossier with bounded memory: a partitioned pass through files on disk.

An audit must see all of a dossier's events together, but an event file may be in any order and a range of
the log holds millions of dossiers. Each record is therefore added with a *tag*, the hash of its dossier id,
to one of ``count`` buckets chosen by the tag: every dossier's records land in one bucket, in arrival
order. A bucket is then read back and grouped by tag, and only one bucket is in memory at a time. With one
bucket nothing is written to disk (small inputs). Otherwise the buckets buffer their records until they hold
``flush_records`` each on average, then each appends a block to its file; a bucket that came out larger than
planned (the size was under-estimated) is split again by other bits of the tags before it is read.

Each bucket is read back in ``PARTS`` parts, again chosen by the tag, each part's records made contiguous.
A dossier's records are spread over the whole bucket (they arrive over weeks); reading them one dossier at a
time from a bucket of tens of megabytes waits on main memory for every record, while a part of a few hundred
kilobytes stays in the CPU's cache (measured: ~0.2 us less per record). Records are kept in their part's
order from the start, so that a part is a few runs to join, one per block, never a record-by-record gather.

A block is ``n`` (u64), the number of records of each part (``PARTS`` u32), then the ``n`` record numbers
(u64: a line number, or a partition and offset), ``n`` tags (i64), ``n`` lengths (u32), and the ``n``
records' bytes, all in part order.
"""

from __future__ import annotations

import math
import shutil
import struct
import tempfile
from array import array
from collections.abc import Callable, Hashable, Iterable, Iterator
from itertools import accumulate, islice
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

BUCKET_BYTES = 24 << 20
"""Input bytes per bucket: ~65,000 events of ~370 bytes."""
PARTS = 32
"""Parts a bucket is read in: ~750 kB each."""

_COUNT = struct.Struct("<Q")


def bucket_count(expected_bytes: int, bucket_bytes: int = BUCKET_BYTES) -> int:
    """How many buckets keep each one near ``bucket_bytes`` of input."""
    return max(1, math.ceil(expected_bytes / bucket_bytes))


class Bucket:
    """One bucket's records in arrival order: ``numbers[i]``, ``tags[i]``, and ``record(i)``, the bytes
    ``data[starts[i]:ends[i]]``.

    The records stay in one buffer and are sliced out as they are read: a bucket (or a part of one) is
    thousands of records, and as separate objects they would fill allocator pages that are handed back to the system
    after each bucket and faulted in again for the next (each fault costs microseconds on a virtual machine).
    """

    __slots__ = ("data", "ends", "numbers", "starts", "tags")

    def __init__(self, numbers: array, tags: array, data: bytes, starts: array, ends: array) -> None:
        self.numbers, self.tags, self.data, self.starts, self.ends = numbers, tags, data, starts, ends

    @classmethod
    def of_records(cls, numbers: array, tags: array, records: list[bytes]) -> Bucket:
        """A bucket of records held as separate objects (one bucket in memory, nothing on disk)."""
        return cls.of_data(numbers, tags, b"".join(records), array("I", map(len, records)))

    @classmethod
    def of_data(cls, numbers: array, tags: array, data: bytes, lengths: array) -> Bucket:
        """A bucket of records laid end to end in ``data``."""
        ends = array("Q", accumulate(lengths))
        return cls(numbers, tags, data, array("Q", [0]) + ends[:-1], ends)

    def __len__(self) -> int:
        return len(self.numbers)

    def record(self, i: int) -> bytes:
        return self.data[self.starts[i] : self.ends[i]]

    def groups(self) -> dict[int, list[int]]:
        """The record indices of each tag, in arrival order (first-seen order of the tags)."""
        groups: dict[int, list[int]] = {}
        for i, tag in enumerate(self.tags):
            group = groups.get(tag)
            if group is None:
                groups[tag] = [i]
            else:
                group.append(i)
        return groups


class Buckets:
    """A partitioned pass: ``add`` every record with its tag, then ``drain`` the buckets one by one.

    Use as a context manager: the spill directory is removed on exit. ``divisor`` selects other bits of the
    tags (to split a bucket again; only once: a single dossier larger than a bucket stays one bucket).

    Records are held in ``count * parts`` slots: slot ``s`` is part ``s // count`` of bucket ``s % count``.
    """

    def __init__(
        self,
        count: int,
        directory: Path | None = None,
        bucket_bytes: int = BUCKET_BYTES,
        flush_records: int = 1024,
        divisor: int = 1,
        resplit: bool = True,
        parts: int = PARTS,
    ) -> None:
        self._directory = directory
        self._resplit = resplit
        self._bucket_bytes = bucket_bytes
        self._flush_records = flush_records
        self._divisor = divisor
        self._parts = parts
        self._dir: Path | None = None
        self._setup(count)

    def _setup(self, count: int) -> None:
        self.count = count
        slots = count * self._parts
        self._numbers = [array("Q") for _ in range(slots)]
        self._tags = [array("q") for _ in range(slots)]
        self._records: list[list[bytes]] = [[] for _ in range(slots)]
        self._held_records = 0
        self._bytes_in_memory = 0  # of the one bucket, while nothing is on disk
        if count > 1 and self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="motcua-spill-", dir=self._directory))

    def __enter__(self) -> Buckets:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def add(self, tag: int, number: int, record: bytes) -> None:
        """Append a record (``number``: its line number, or its partition and offset)."""
        self._add_tagged((number,), (tag,), (record,))

    def _add_tagged(self, numbers: Iterable[int], tags: Iterable[int], records: Iterable[bytes]) -> None:
        """Append records whose tags are known: taken as they are, never hashed again (a string's 64-bit hash
        is not its own hash, so the records re-added after a spill would leave their dossier's group)."""
        slots, divisor = len(self._records), self._divisor
        held = self._held()
        for number, tag, record in zip(numbers, tags, records, strict=True):
            i = (tag // divisor) % slots
            self._records[i].append(record)
            self._numbers[i].append(number)
            self._tags[i].append(tag)
            self._held_records += 1
        self._settle(held)

    def add_many(
        self, numbered: Iterable[tuple[int, bytes]], key_of: Callable[[bytes], Hashable | None]
    ) -> tuple[int, list[tuple[int, bytes]]]:
        """Append records in arrival order, each tagged with the hash of ``key_of(record)``: the hot path.

        Returns how many records it was given, and the (number, record) pairs whose key is None, which are
        not added.
        """
        slots, divisor = len(self._records), self._divisor
        numbers, tags, records = self._numbers, self._tags, self._records
        held = self._held()
        keyless = []
        given = 0
        for given, (number, record) in enumerate(numbered, 1):  # noqa: B007 (read after the loop)
            key = key_of(record)
            if key is None:
                keyless.append((number, record))
                continue
            tag = hash(key)
            i = (tag // divisor) % slots
            records[i].append(record)
            numbers[i].append(number)
            tags[i].append(tag)
        self._held_records += given - len(keyless)
        self._settle(held)
        return given, keyless

    def _held(self) -> list[int]:
        """Records in each slot of the one bucket in memory before an add (none once there are several)."""
        return list(map(len, self._records)) if self._dir is None else []

    def _settle(self, held: list[int]) -> None:
        """After an add: flush the buckets to disk once they hold ``flush_records`` each on average, or spill the
        one in memory once it outgrew its size."""
        records = self._records
        if self._dir is not None:
            if self._held_records >= self.count * self._flush_records:
                for i in range(self.count):
                    self._flush(i)
        else:
            self._bytes_in_memory += sum(sum(map(len, islice(r, h, None))) for r, h in zip(records, held, strict=True))
            if self._bytes_in_memory > 2 * self._bucket_bytes:
                self._spill(bucket_count(self._bytes_in_memory, self._bucket_bytes))  # more than planned

    def _spill(self, count: int) -> None:
        """Go from one bucket in memory to ``count`` buckets on disk."""
        numbers, tags, records, _ = self._take(0)
        self._setup(max(2, count))
        self._add_tagged(numbers, tags, records)

    def _path(self, i: int) -> Path:
        assert self._dir is not None
        return self._dir / f"{i}.bucket"

    def _flush(self, i: int) -> None:
        numbers, tags, records, part_sizes = self._take(i)
        if not numbers:
            return
        with self._path(i).open("ab") as out:
            out.write(_COUNT.pack(len(numbers)))
            out.write(part_sizes.tobytes())
            out.write(numbers.tobytes())
            out.write(tags.tobytes())
            out.write(array("I", map(len, records)).tobytes())
            out.write(b"".join(records))

    def _take(self, i: int) -> tuple[array, array, list[bytes], array]:
        """Bucket ``i``'s records, emptied from its slots, in part order; and the number of each part's."""
        numbers, tags, records, part_sizes = array("Q"), array("q"), [], array("I")
        for slot in range(i, len(self._records), self.count):
            slot_numbers, slot_tags, slot_records = self._take_slot(slot)
            numbers += slot_numbers
            tags += slot_tags
            records += slot_records
            part_sizes.append(len(slot_records))
        self._held_records -= len(numbers)
        return numbers, tags, records, part_sizes

    def _take_slot(self, slot: int) -> tuple[array, array, list[bytes]]:
        taken = self._numbers[slot], self._tags[slot], self._records[slot]
        self._numbers[slot], self._tags[slot], self._records[slot] = array("Q"), array("q"), []
        return taken

    def drain(self) -> Iterator[Iterator[Bucket]]:
        """Every bucket, one at a time, as its non-empty parts, each built when it is asked for (walk each
        bucket's parts to the end, dropping each part, before asking for the next bucket: that bounds memory)."""
        for i in range(self.count):
            if self._dir is None:
                yield self._memory_parts(i)
                continue
            self._flush(i)
            path = self._path(i)
            if not path.exists():
                continue
            if self._resplit and path.stat().st_size > 2 * self._bucket_bytes:
                yield from self._split(path)
            else:
                yield _parts_of(path, self._parts)

    def _memory_parts(self, i: int) -> Iterator[Bucket]:
        for slot in range(i, len(self._records), self.count):
            if self._records[slot]:
                yield Bucket.of_records(*self._take_slot(slot))

    def _split(self, path: Path) -> Iterator[Iterator[Bucket]]:
        """An oversized bucket, split again by the next bits of its tags."""
        with Buckets(
            bucket_count(path.stat().st_size, self._bucket_bytes),
            self._dir,
            self._bucket_bytes,
            self._flush_records,
            self._divisor * self.count * self._parts,
            resplit=False,  # one level: its buckets are sized from the bucket's real size
            parts=self._parts,
        ) as smaller:
            with path.open("rb") as f:
                for block in _blocks(f, self._parts):
                    smaller._add_tagged(block.numbers, block.tags, block.records())
            path.unlink()
            yield from smaller.drain()


class _Block:
    """A block as read from a bucket file: the numbers, tags, lengths and bytes of its records, in part order."""

    __slots__ = ("data", "lengths", "numbers", "part_sizes", "tags")

    def __init__(self, part_sizes: array, numbers: array, tags: array, lengths: array, data: bytes) -> None:
        self.part_sizes, self.numbers, self.tags, self.lengths, self.data = part_sizes, numbers, tags, lengths, data

    def records(self) -> list[bytes]:
        data, position, records = self.data, 0, []
        for length in self.lengths:
            records.append(data[position : position + length])
            position += length
        return records


def _blocks(f: BinaryIO, parts: int) -> Iterator[_Block]:
    while header := f.read(_COUNT.size):
        (n,) = _COUNT.unpack(header)
        part_sizes, numbers, tags, lengths = array("I"), array("Q"), array("q"), array("I")
        part_sizes.fromfile(f, parts)
        numbers.fromfile(f, n)
        tags.fromfile(f, n)
        lengths.fromfile(f, n)
        yield _Block(part_sizes, numbers, tags, lengths, f.read(sum(lengths)))


def _parts_of(path: Path, parts: int) -> Iterator[Bucket]:
    """A bucket file's records, part by part: each part's runs of every block, joined. The file is read whole
    (and removed) before the first part."""
    runs: list[list[tuple[_Block, int, int, int, int]]] = [[] for _ in range(parts)]
    with path.open("rb") as f:
        for block in _blocks(f, parts):
            first, position = 0, 0
            for part, size in enumerate(block.part_sizes):
                if size:
                    length = sum(block.lengths[first : first + size])
                    runs[part].append((block, first, first + size, position, position + length))
                    first, position = first + size, position + length
    path.unlink()
    for part_runs in runs:
        if not part_runs:
            continue
        numbers, tags, lengths = array("Q"), array("q"), array("I")
        for block, first, end, _, _ in part_runs:
            numbers += block.numbers[first:end]
            tags += block.tags[first:end]
            lengths += block.lengths[first:end]
        data = b"".join([block.data[start:stop] for block, _, _, start, stop in part_runs])
        yield Bucket.of_data(numbers, tags, data, lengths)
