"""The tables' store: faust's in-memory semantics, with the data in a SQLite file so that memory stays flat.

faust's memory store keeps every key for good: the dossier table held every dossier's events and the
summaries table every dossier's summary, so a worker grew by ~2.8 KB per event (10 GB in the 60-minute
soak). This store behaves like the memory store (it starts empty, every assignment replays the whole
changelog into it), but its
data lives in a SQLite database under the worker's data directory, with a bounded page cache: memory
depends on the working set, not on how many dossiers the worker has seen.

Each table's page cache (``disk://?cache_kib=N``, sized by ``MOTCUA_STREAMS_TABLE_CACHE_MIB``) is meant to
hold the pages of every dossier active in the last month of event time (the default: 12 provinces at the
soak's rate) in anonymous memory, which without swap is never reclaimed; file pages in the kernel's cache
are (this VM's DAMON reclaim drops pages idle for a minute). With a 16 MiB cache nearly every write first
read its B-tree page back from disk, and the worker's event loop waited on each read through the machine's
I/O stalls (the 80-minute soak's 16-second freshness episodes). Keys are ``unit-yymmdd-seq``: a month of
recent dossiers is a band of pages at the end of each unit's range, and the least recently used pages,
evicted first, are the old ones.

The file is a cache of the changelog, never the record: it is deleted when the worker starts, and SQLite
runs without journal or fsync. Writes of a batch accumulate in one transaction that ``commit`` ends (the
worker commits after each batch; reads see the uncommitted writes).

Keys and values are raw bytes (the worker's tables use the raw codec); each key remembers the partition it
belongs to, and the *version* of its value: the offset of the record whose processing wrote it, carried by
the changelog record in a ``motcua.version`` header. A write never replaces a newer version, and a deletion
is kept as a versioned tombstone. faust has no fencing: a worker the group has already dropped (its event
loop blocked past the session timeout) may still write what it was processing; those writes land in the
changelog after the new owner's newer ones, and a later replay restored them (a finished dossier counted
open again, found by the two-worker SIGKILL test). With versions, the replay keeps the newest.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import faust
from faust.stores import STORES, memory
from faust.types import EventT

SCHEME = "disk"
DEFAULT_CACHE_KIB = 16 * 1024
"""A table's SQLite page cache (KiB) unless its store URL says otherwise: ``disk://?cache_kib=N``."""
NO_PARTITION = -1
VERSION_HEADER = "motcua.version"


class DiskTable(MutableMapping[bytes, bytes]):
    """One table's keys and values in a SQLite file, each key with its partition."""

    def __init__(self, path: Path, cache_kib: int = DEFAULT_CACHE_KIB) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)  # a cache of the changelog: what a previous run left is not trusted
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False)
        for pragma in (
            "journal_mode=OFF",
            "synchronous=OFF",
            "locking_mode=EXCLUSIVE",
            f"cache_size=-{cache_kib}",
            "temp_store=FILE",
        ):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute(
            "CREATE TABLE kv (key BLOB PRIMARY KEY, part INTEGER NOT NULL, version INTEGER NOT NULL, value BLOB)"
            " WITHOUT ROWID"
        )
        self._db.execute("CREATE INDEX kv_part ON kv (part)")

    # ----------------------------------------------------------------------------------- writes

    _UPSERT = (
        "INSERT INTO kv VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE"
        " SET part = excluded.part, version = excluded.version, value = excluded.value"
        " WHERE excluded.version >= kv.version"
    )

    def put(self, key: bytes, value: bytes | None, partition: int, version: int) -> None:
        """Write a value (None: delete) unless the key holds a newer version."""
        self._db.execute(self._UPSERT, (key, partition, version, value))

    def put_many(self, rows: Iterable[tuple[bytes, int, int, bytes | None]]) -> None:
        """(key, partition, version, value), as ``put`` each."""
        self._db.executemany(self._UPSERT, rows)

    def holds_newer(self, key: bytes, version: int) -> bool:
        """Whether the key holds a version newer than ``version`` (a tombstone included)."""
        return self._db.execute("SELECT 1 FROM kv WHERE key = ? AND version > ?", (key, version)).fetchone() is not None

    def keep_partitions(self, partitions: set[int]) -> None:
        """Drop every key of a partition not in ``partitions`` (nor written without one)."""
        kept = sorted({*partitions, NO_PARTITION})
        self._db.execute(f"DELETE FROM kv WHERE part NOT IN ({','.join('?' * len(kept))})", kept)

    def commit(self) -> None:
        self._db.commit()

    def close(self) -> None:
        self._db.close()
        self.path.unlink(missing_ok=True)

    # ------------------------------------------------------------------------ MutableMapping

    def __getitem__(self, key: bytes) -> bytes:
        row = self._db.execute("SELECT value FROM kv WHERE key = ? AND value IS NOT NULL", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return row[0]  # type: ignore[no-any-return]

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?, 0, ?)", (key, NO_PARTITION, value))

    def __delitem__(self, key: bytes) -> None:
        if self._db.execute("DELETE FROM kv WHERE key = ? AND value IS NOT NULL", (key,)).rowcount == 0:
            raise KeyError(key)

    def __iter__(self) -> Iterator[bytes]:
        for (key,) in self._db.execute("SELECT key FROM kv WHERE value IS NOT NULL"):
            yield key

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM kv WHERE value IS NOT NULL").fetchone()[0])

    def __contains__(self, key: object) -> bool:
        query = "SELECT 1 FROM kv WHERE key = ? AND value IS NOT NULL"
        return self._db.execute(query, (key,)).fetchone() is not None

    def items(self, partition: int | None = None) -> Iterator[tuple[bytes, bytes]]:  # type: ignore[override]
        """Every (key, value), or a partition's; read in one pass (the rows are fetched in chunks)."""
        if partition is None:
            cursor = self._db.execute("SELECT key, value FROM kv WHERE value IS NOT NULL")
        else:
            query = "SELECT key, value FROM kv WHERE part = ? AND value IS NOT NULL"
            cursor = self._db.execute(query, (partition,))
        while rows := cursor.fetchmany(10_000):
            yield from rows

    def with_prefix(self, prefix: bytes) -> list[tuple[bytes, int, bytes]]:
        """Every (key, version, value) whose key starts with ``prefix`` (keys are ordered: one index range)."""
        upper = prefix[:-1] + bytes([prefix[-1] + 1])  # prefixes end with a separator byte below 0xff
        query = "SELECT key, version, value FROM kv WHERE key >= ? AND key < ? AND value IS NOT NULL"
        return self._db.execute(query, (prefix, upper)).fetchall()

    def clear(self) -> None:
        self._db.execute("DELETE FROM kv")


class DiskStore(memory.Store):  # type: ignore[misc]
    """faust's memory store over a ``DiskTable`` instead of a dict (``self.data``, as the memory store names it);
    persisted offsets, backups and state resets stay the memory store's (none)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cache_kib = int(self.url.query.get("cache_kib", DEFAULT_CACHE_KIB))
        self.data = DiskTable(Path(self.app.conf.tabledir) / f"{self.table_name}.sqlite", cache_kib)

    # faust's Collection reads and writes ``store[key]``; FastUserDict maps that to self.data
    def __getitem__(self, key: bytes) -> bytes:
        return self.data[key]

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.data[key] = value

    def __delitem__(self, key: bytes) -> None:
        del self.data[key]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def items(self) -> Iterator[tuple[bytes, bytes]]:  # type: ignore[override]
        return self.data.items()

    def apply_changelog_batch(
        self, batch: Iterable[EventT], to_key: Callable[[Any], Any], to_value: Callable[[Any], Any]
    ) -> None:
        self.data.put_many(
            (m.key, m.partition, record_version(m.headers), m.value) for m in (e.message for e in batch)
        )
        self.data.commit()

    def _clear(self) -> None:
        self.data.clear()

    async def on_stop(self) -> None:
        self.data.close()


def version_header(version: int) -> tuple[str, bytes]:
    """The header that carries a changelog record's version."""
    return VERSION_HEADER, str(version).encode()


def record_version(headers: Any) -> int:
    """A changelog record's version (-1 without one: older than any versioned write)."""
    for name, value in (headers.items() if isinstance(headers, dict) else headers or ()):
        if name == VERSION_HEADER:
            return int(value)
    return -1


def store_url(cache_kib: int) -> str:
    """The store of a table whose SQLite page cache holds ``cache_kib`` KiB."""
    return f"{SCHEME}://?cache_kib={cache_kib}"


def disk_table(table: faust.Table) -> DiskTable:
    """The ``DiskTable`` behind one of the worker's tables."""
    store = table.data
    assert isinstance(store, DiskStore), f"{table.name} is not in a {SCHEME}:// store"
    return store.data  # type: ignore[no-any-return]


STORES.aliases[SCHEME] = f"{__name__}:DiskStore"
