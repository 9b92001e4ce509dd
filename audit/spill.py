"""Records grouped by dossier with bounded memory: a partitioned pass through files on disk.

An audit must see all of a dossier's events together, but an event file may be in any order and a range of
the log holds millions of dossiers. Each record is therefore added with a *tag*, the hash of its dossier id,
to one of ``count`` buckets chosen by the tag: every dossier's records land in one bucket, in arrival
order. A bucket is then read back and grouped by tag, and only one bucket is in memory at a time. With one
bucket nothing is written to disk (small inputs). Otherwise the records are held as they come until the
buckets hold ``flush_records`` each on average (or ``FLUSH_BYTES`` in all), then ordered by bucket and part
(a stable sort in numpy) and each bucket appends a block to its file; a bucket that came out larger than
planned (the size was under-estimated) is split again by other bits of the tags before it is read.

Each bucket is read back in ``PARTS`` parts, again chosen by the tag, each part's records made contiguous.
A dossier's records are spread over the whole bucket (they arrive over weeks); reading them one dossier at a
time from a bucket of tens of megabytes waits on main memory for every record, while a part of a few hundred
kilobytes, and the events decoded from it, stay in the CPU's cache (measured: ~0.2 us less per record). A
block holds its records in part order, so that a part is a few runs to join, one per block, never a
record-by-record gather; joined, a part is the text of a JSON array of its records, which the reader decodes
in one call.

A block is ``n`` (u64), the number of records of each part (``PARTS`` u32), then the ``n`` record numbers
(u64: a line number, or a partition and offset), ``n`` tags (i64), ``n`` lengths (u32), and the ``n``
records' bytes, each followed by a comma, all in part order.
"""

from __future__ import annotations

import math
import os
import shutil
import struct
import tempfile
from array import array
from collections.abc import Hashable, Iterable, Iterator, Sequence
from operator import itemgetter
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

# numpy here only sorts, counts and sums: no linear algebra. Its OpenBLAS would start a thread per core at
# import, and they spin for a while: ~0.1 s of CPU at every start-up, as much as a small audit's whole work.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy

BUCKET_BYTES = 24 << 20
"""Input bytes per bucket: ~65,000 events of ~370 bytes."""
PARTS = 128
"""Parts a bucket is read in: ~190 kB each."""
FLUSH_BYTES = 64 << 20
"""The most record bytes held between two writes to the buckets, whatever their number: with K buckets of
``flush_records`` each, the memory held would grow with the input."""

_COUNT = struct.Struct("<Q")


def bucket_count(expected_bytes: int, bucket_bytes: int = BUCKET_BYTES) -> int:
    """How many buckets keep each one near ``bucket_bytes`` of input."""
    return max(1, math.ceil(expected_bytes / bucket_bytes))


class Bucket:
    """One bucket's records in arrival order: ``numbers[i]``, ``tags[i]``, and ``record(i)``, the bytes
    ``data[starts[i]:ends[i]]``.

    ``data`` is the text of a JSON array of the records, so that they can be decoded in one call. The records
    stay in that one buffer and are sliced out only when one must be read alone: a bucket (or a part of one)
    is thousands of records, and as separate objects they would fill allocator pages that are handed back to
    the system after each bucket and faulted in again for the next (each fault costs microseconds on a
    virtual machine).
    """

    __slots__ = ("data", "ends", "numbers", "starts", "tags")

    def __init__(self, numbers: array, tags: array, data: bytes, starts: array, ends: array) -> None:
        self.numbers, self.tags, self.data, self.starts, self.ends = numbers, tags, data, starts, ends

    @classmethod
    def of_array(cls, numbers: array, tags: array, data: bytes, lengths: array) -> Bucket:
        """A bucket whose ``data`` is ``[``, the records (of ``lengths``) separated by commas, and ``]``."""
        sizes = numpy.frombuffer(lengths, numpy.uint32)
        ends = numpy.cumsum(sizes + 1, dtype=numpy.uint64)  # each record and its comma (or the closing bracket)
        starts = ends - sizes
        return cls(numbers, tags, data, array("Q", starts.tobytes()), array("Q", ends.tobytes()))

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

    A record's slot is ``tag // divisor % (count * parts)``: slot ``s`` is part ``s % parts`` of bucket
    ``s // parts``, so that ordering records by slot orders them by bucket, then part. Records are held as
    they came (a few arrays and a list) and ordered by slot all at once when they are written out: a stable
    sort in C, where placing each record in its slot as it comes is several Python steps per record.
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
        flush_bytes: int = FLUSH_BYTES,
    ) -> None:
        self._directory = directory
        self._resplit = resplit
        self._bucket_bytes = bucket_bytes
        self._flush_records = flush_records
        self._flush_bytes = flush_bytes
        self._divisor = divisor
        self._parts = parts
        self._dir: Path | None = None
        self._setup(count)
        self._hold_nothing()

    def _setup(self, count: int) -> None:
        self.count = count
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
        self._add_tagged((number,), (tag,), [record])

    def add_many(self, numbers: Sequence[int], records: list[bytes], keys: Sequence[Hashable]) -> None:
        """Append records in arrival order, each tagged with the hash of its key: the hot path."""
        _same_lengths(numbers, records, keys)
        self._add(numbers, map(hash, keys), records)

    def _add_tagged(self, numbers: Sequence[int], tags: Sequence[int], records: list[bytes]) -> None:
        """Append records whose tags are known: taken as they are, never hashed again (a string's 64-bit hash
        is not its own hash, so the records re-added after a spill would leave their dossier's group)."""
        _same_lengths(numbers, records, tags)
        self._add(numbers, tags, records)

    def _add(self, numbers: Sequence[int], tags: Iterable[int], records: list[bytes]) -> None:
        n = len(records)
        self._numbers.append(
            numpy.arange(numbers.start, numbers.stop, numbers.step, numpy.uint64)
            if isinstance(numbers, range)
            else numpy.fromiter(numbers, numpy.uint64, n)
        )
        self._tags.append(numpy.fromiter(tags, numpy.int64, n))
        lengths = numpy.fromiter(map(len, records), numpy.uint32, n)
        self._lengths.append(lengths)
        self._records += records
        self._held_bytes += int(lengths.sum())
        if self._dir is not None:
            if len(self._records) >= self.count * self._flush_records or self._held_bytes >= self._flush_bytes:
                self._flush()
            return
        if self._held_bytes > 2 * self._bucket_bytes:  # the one bucket in memory outgrew its size: spill
            self._setup(max(2, bucket_count(self._held_bytes, self._bucket_bytes)))
            self._flush()

    def _hold_nothing(self) -> None:
        self._numbers: list[numpy.ndarray] = []
        self._tags: list[numpy.ndarray] = []
        self._lengths: list[numpy.ndarray] = []
        self._records: list[bytes] = []
        self._held_bytes = 0

    def _by_slot(self) -> _BySlot:
        """The records held, ordered by slot; they are then no longer held."""
        by_slot = _BySlot(
            numpy.concatenate(self._numbers) if self._numbers else numpy.zeros(0, numpy.uint64),
            numpy.concatenate(self._tags) if self._tags else numpy.zeros(0, numpy.int64),
            numpy.concatenate(self._lengths) if self._lengths else numpy.zeros(0, numpy.uint32),
            self._records,
            self._divisor,
            self.count * self._parts,
        )
        self._hold_nothing()
        return by_slot

    def _path(self, i: int) -> Path:
        assert self._dir is not None
        return self._dir / f"{i}.bucket"

    def _flush(self) -> None:
        """Append each bucket's held records to its file as a block, in part order."""
        by_slot, parts = self._by_slot(), self._parts
        for i in range(self.count):
            first, end = by_slot.bounds[i * parts], by_slot.bounds[(i + 1) * parts]
            if first == end:
                continue
            with self._path(i).open("ab") as out:
                out.write(_COUNT.pack(end - first))
                out.write(by_slot.sizes[i * parts : (i + 1) * parts])
                out.write(by_slot.numbers[first:end])
                out.write(by_slot.tags[first:end])
                out.write(by_slot.lengths[first:end])
                out.write(b",".join(by_slot.records[first:end]))
                out.write(b",")

    def drain(self) -> Iterator[Iterator[Bucket]]:
        """Every bucket, one at a time, as its non-empty parts, each built when it is asked for (walk each
        bucket's parts to the end, dropping each part, before asking for the next bucket: that bounds memory)."""
        if self._dir is None:
            yield self._memory_parts()
            return
        self._flush()
        for i in range(self.count):
            path = self._path(i)
            if not path.exists():
                continue
            if self._resplit and path.stat().st_size > 2 * self._bucket_bytes:
                yield from self._split(path)
            else:
                yield _parts_of(path, self._parts)

    def _memory_parts(self) -> Iterator[Bucket]:
        """The one bucket in memory, part by part."""
        by_slot = self._by_slot()
        for part in range(self._parts):
            first, end = by_slot.bounds[part], by_slot.bounds[part + 1]
            if first < end:
                yield Bucket.of_array(
                    array("Q", by_slot.numbers[first:end].tobytes()),
                    array("q", by_slot.tags[first:end].tobytes()),
                    b"".join((b"[", b",".join(by_slot.records[first:end]), b"]")),
                    array("I", by_slot.lengths[first:end].tobytes()),
                )

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
            flush_bytes=self._flush_bytes,
        ) as smaller:
            with path.open("rb") as f:
                for block in _blocks(f, self._parts):
                    smaller._add_tagged(block.numbers, block.tags, block.records())
            path.unlink()
            yield from smaller.drain()


def _same_lengths(numbers: Sequence[int], records: list[bytes], tags_or_keys: Sequence[Hashable]) -> None:
    if not len(numbers) == len(records) == len(tags_or_keys):
        raise ValueError("every record needs one number and one tag")


class _BySlot:
    """Held records ordered by slot (stable: in arrival order within a slot); slot ``s`` is
    ``[bounds[s], bounds[s + 1])``, and holds ``sizes[s]`` records."""

    __slots__ = ("bounds", "lengths", "numbers", "records", "sizes", "tags")

    def __init__(
        self,
        numbers: numpy.ndarray,
        tags: numpy.ndarray,
        lengths: numpy.ndarray,
        records: list[bytes],
        divisor: int,
        slots: int,
    ) -> None:
        slot_of = tags // divisor % slots
        # a stable sort of 16-bit keys is a radix sort
        order = numpy.argsort(slot_of.astype(numpy.uint16 if slots <= 1 << 16 else numpy.uint32), kind="stable")
        self.sizes = numpy.bincount(slot_of, minlength=slots).astype(numpy.uint32)
        self.bounds = [0, *numpy.cumsum(self.sizes).tolist()]
        self.numbers, self.tags, self.lengths = numbers[order], tags[order], lengths[order]
        self.records = itemgetter(*order.tolist())(records) if len(records) > 1 else tuple(records)


class _Block:
    """A block as read from a bucket file: the numbers, tags, lengths and bytes of its records, in part order."""

    __slots__ = ("data", "lengths", "numbers", "part_sizes", "tags")

    def __init__(self, part_sizes: array, numbers: array, tags: array, lengths: array, data: bytes) -> None:
        self.part_sizes, self.numbers, self.tags, self.lengths, self.data = part_sizes, numbers, tags, lengths, data

    def records(self) -> list[bytes]:
        data, position, records = self.data, 0, []
        for length in self.lengths:
            records.append(data[position : position + length])
            position += length + 1  # and its comma
        return records


def _blocks(f: BinaryIO, parts: int) -> Iterator[_Block]:
    while header := f.read(_COUNT.size):
        (n,) = _COUNT.unpack(header)
        part_sizes, numbers, tags, lengths = array("I"), array("Q"), array("q"), array("I")
        part_sizes.fromfile(f, parts)
        numbers.fromfile(f, n)
        tags.fromfile(f, n)
        lengths.fromfile(f, n)
        yield _Block(part_sizes, numbers, tags, lengths, f.read(sum(lengths) + n))


def _parts_of(path: Path, parts: int) -> Iterator[Bucket]:
    """A bucket file's records, part by part, each part the text of a JSON array: its run of every block,
    joined. The file is read whole (and removed) before the first part.

    Where each run is comes from numpy, for all the runs at once: with many small parts a bucket is thousands
    of runs (blocks x parts), and slicing the blocks' arrays run by run in Python cost more than decoding.
    """
    with path.open("rb") as f:
        blocks = list(_blocks(f, parts))
    path.unlink()
    if not blocks:
        return
    run_sizes = numpy.frombuffer(b"".join(block.part_sizes for block in blocks), numpy.uint32).astype(numpy.int64)
    lengths = numpy.frombuffer(b"".join(block.lengths for block in blocks), numpy.uint32)
    # the bytes before each record (and its comma), all blocks counted in the file's order; in its block's data,
    # a run is from the bytes before its first record to those before the next run's, less its block's start
    before = numpy.zeros(len(lengths) + 1, numpy.int64)
    numpy.cumsum(lengths + numpy.int64(1), out=before[1:])
    run_bounds = numpy.zeros(len(run_sizes) + 1, numpy.int64)
    numpy.cumsum(run_sizes, out=run_bounds[1:])
    block_starts = numpy.repeat(before[run_bounds[:-1:parts]], parts)
    run_starts = (before[run_bounds[:-1]] - block_starts).reshape(len(blocks), parts).T.tolist()
    run_ends = (before[run_bounds[1:]] - block_starts).reshape(len(blocks), parts).T.tolist()
    # the records in part order (a stable sort: arrival order within a part)
    part_numbers = numpy.arange(parts, dtype=numpy.min_scalar_type(parts))  # 8 or 16 bits: a radix sort
    part_of_record = numpy.repeat(numpy.tile(part_numbers, len(blocks)), run_sizes)
    order = numpy.argsort(part_of_record, kind="stable")
    numbers = numpy.frombuffer(b"".join(block.numbers for block in blocks), numpy.uint64)[order]
    tags = numpy.frombuffer(b"".join(block.tags for block in blocks), numpy.int64)[order]
    lengths = lengths[order]
    part_bounds = [0, *numpy.cumsum(run_sizes.reshape(len(blocks), parts).sum(axis=0)).tolist()]
    views = [memoryview(block.data) for block in blocks]
    for part in range(parts):
        first, end = part_bounds[part], part_bounds[part + 1]
        if first == end:
            continue
        runs = zip(views, run_starts[part], run_ends[part], strict=True)
        pieces = [view[start:stop] for view, start, stop in runs if stop > start]
        pieces[-1] = pieces[-1][:-1]  # the last comma
        yield Bucket.of_array(
            array("Q", numbers[first:end].tobytes()),
            array("q", tags[first:end].tobytes()),
            b"".join((b"[", *pieces, b"]")),
            array("I", lengths[first:end].tobytes()),
        )
