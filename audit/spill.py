"""Records grouped by dossier with bounded memory: a partitioned pass through files on disk.

An audit must see all of a dossier's events together, but an event file may be in any order and a range of
the log holds millions of dossiers. Each record is therefore added with a *tag*, the hash of its dossier id,
to one of ``count`` buckets chosen by the tag: every dossier's records land in one bucket, in arrival
order. A bucket is then read back whole and grouped by tag, and only one bucket is in memory at a time. With
one bucket nothing is written to disk (small inputs). Otherwise each bucket buffers at most ``flush_bytes``
before it appends a block to its file, and a bucket that came out larger than planned (the size was
under-estimated) is split again by other bits of the tags before it is read.

A block is ``n`` (u64), then ``n`` record numbers (u64: a line number, or a partition and offset), ``n``
tags (i64), ``n`` lengths (u32), then the ``n`` records' bytes.
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

BUCKET_BYTES = 24 << 20
"""Input bytes per bucket: ~65,000 events of ~370 bytes."""

_COUNT = struct.Struct("<Q")


def bucket_count(expected_bytes: int, bucket_bytes: int = BUCKET_BYTES) -> int:
    """How many buckets keep each one near ``bucket_bytes`` of input."""
    return max(1, math.ceil(expected_bytes / bucket_bytes))


class Bucket:
    """One bucket's records in arrival order: ``numbers[i]``, ``tags[i]``, and ``record(i)``, the bytes
    ``data[starts[i]:ends[i]]``.

    The records stay in one buffer and are sliced out as they are read: a bucket is tens of thousands of
    records, and as separate objects they would fill allocator pages that are handed back to the system
    after each bucket and faulted in again for the next (each fault costs microseconds on a virtual machine).
    """

    __slots__ = ("data", "ends", "numbers", "starts", "tags")

    def __init__(self, numbers: array, tags: array, data: bytes, starts: array, ends: array) -> None:
        self.numbers, self.tags, self.data, self.starts, self.ends = numbers, tags, data, starts, ends

    @classmethod
    def of_records(cls, numbers: array, tags: array, records: list[bytes]) -> Bucket:
        """A bucket of records held as separate objects (one bucket in memory, nothing on disk)."""
        ends = array("Q", accumulate(map(len, records)))
        return cls(numbers, tags, b"".join(records), array("Q", [0]) + ends[:-1], ends)

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
    """

    def __init__(
        self,
        count: int,
        directory: Path | None = None,
        bucket_bytes: int = BUCKET_BYTES,
        flush_records: int = 1024,
        divisor: int = 1,
        resplit: bool = True,
    ) -> None:
        self._directory = directory
        self._resplit = resplit
        self._bucket_bytes = bucket_bytes
        self._flush_records = flush_records
        self._divisor = divisor
        self._dir: Path | None = None
        self._setup(count)

    def _setup(self, count: int) -> None:
        self.count = count
        self._numbers = [array("Q") for _ in range(count)]
        self._tags = [array("q") for _ in range(count)]
        self._records: list[list[bytes]] = [[] for _ in range(count)]
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
        count, divisor = self.count, self._divisor
        held = self._held()
        for number, tag, record in zip(numbers, tags, records, strict=True):
            i = (tag // divisor) % count
            self._records[i].append(record)
            self._numbers[i].append(number)
            self._tags[i].append(tag)
        self._settle(held)

    def add_many(
        self, numbered: Iterable[tuple[int, bytes]], key_of: Callable[[bytes], Hashable | None]
    ) -> tuple[int, list[tuple[int, bytes]]]:
        """Append records in arrival order, each tagged with the hash of ``key_of(record)``: the hot path.

        Returns how many records it was given, and the (number, record) pairs whose key is None, which are
        not added.
        """
        count, divisor = self.count, self._divisor
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
            i = (tag // divisor) % count
            records[i].append(record)
            numbers[i].append(number)
            tags[i].append(tag)
        self._settle(held)
        return given, keyless

    def _held(self) -> int:
        """Records in the one bucket in memory before an add (0 once there are several)."""
        return len(self._records[0]) if self.count == 1 else 0

    def _settle(self, held: int) -> None:
        """After an add: flush the full buckets to disk, or spill the one in memory once it outgrew its size."""
        records = self._records
        if self._dir is not None:
            for i, bucket_records in enumerate(records):
                if len(bucket_records) >= self._flush_records:
                    self._flush(i)
        else:
            self._bytes_in_memory += sum(map(len, islice(records[0], held, None)))
            if self._bytes_in_memory > 2 * self._bucket_bytes:
                self._spill(bucket_count(self._bytes_in_memory, self._bucket_bytes))  # more than planned

    def _spill(self, count: int) -> None:
        """Go from one bucket in memory to ``count`` buckets on disk."""
        numbers, tags, records = self._take(0)
        self._setup(max(2, count))
        self._add_tagged(numbers, tags, records)

    def _path(self, i: int) -> Path:
        assert self._dir is not None
        return self._dir / f"{i}.bucket"

    def _flush(self, i: int) -> None:
        numbers, tags, records = self._take(i)
        if not numbers:
            return
        with self._path(i).open("ab") as out:
            out.write(_COUNT.pack(len(numbers)))
            out.write(numbers.tobytes())
            out.write(tags.tobytes())
            out.write(array("I", map(len, records)).tobytes())
            out.write(b"".join(records))

    def _take(self, i: int) -> tuple[array, array, list[bytes]]:
        taken = self._numbers[i], self._tags[i], self._records[i]
        self._numbers[i], self._tags[i], self._records[i] = array("Q"), array("q"), []
        return taken

    def drain(self) -> Iterator[Bucket]:
        """Every bucket, one at a time (drop each before asking for the next: it is what bounds memory)."""
        for i in range(self.count):
            if self._dir is None:
                yield Bucket.of_records(*self._take(i))
                continue
            self._flush(i)
            path = self._path(i)
            if not path.exists():
                continue
            if self._resplit and path.stat().st_size > 2 * self._bucket_bytes:
                yield from self._split(path)
            else:
                bucket = _bucket_of(path.read_bytes())  # holds the file's bytes until it is dropped
                path.unlink()
                yield bucket

    def _split(self, path: Path) -> Iterator[Bucket]:
        """An oversized bucket, split again by the next bits of its tags."""
        with Buckets(
            bucket_count(path.stat().st_size, self._bucket_bytes),
            self._dir,
            self._bucket_bytes,
            self._flush_records,
            self._divisor * self.count,
            resplit=False,  # one level: its buckets are sized from the bucket's real size
        ) as smaller:
            with path.open("rb") as f:
                while header := f.read(_COUNT.size):
                    (n,) = _COUNT.unpack(header)
                    numbers, tags, lengths = array("Q"), array("q"), array("I")
                    numbers.fromfile(f, n)
                    tags.fromfile(f, n)
                    lengths.fromfile(f, n)
                    smaller._add_tagged(numbers, tags, [f.read(length) for length in lengths])
            path.unlink()
            yield from smaller.drain()


def _bucket_of(data: bytes) -> Bucket:
    """A bucket file's blocks as one bucket over the file's bytes."""
    numbers, tags, starts, ends = array("Q"), array("q"), array("Q"), array("Q")
    position = 0
    while position < len(data):
        (n,) = _COUNT.unpack_from(data, position)
        position += _COUNT.size
        numbers.frombytes(data[position : position + 8 * n])
        position += 8 * n
        tags.frombytes(data[position : position + 8 * n])
        position += 8 * n
        lengths = array("I", data[position : position + 4 * n])
        position += 4 * n
        bounds = array("Q", accumulate(lengths, initial=position))
        starts += bounds[:-1]
        ends += bounds[1:]
        position = bounds[-1]
    return Bucket(numbers, tags, data, starts, ends)
