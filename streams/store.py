"""The tables' store: faust's in-memory semantics, with the data in a SQLite file so that memory stays flat.

faust's memory store keeps every key for good: the dossier table held every dossier's events and the
summaries table every dossier's summary, so a worker grew by ~2.8 KB per event (10 GB in the 60-minute
soak). This store behaves like the memory store (it starts empty, every assignment replays the whole
changelog into it, keys of partitions no longer assigned are dropped once recovery completes), but its
data lives in a SQLite database under the worker's data directory, with a bounded page cache: memory
depends on the working set, not on how many dossiers the worker has seen.

The file is a cache of the changelog, never the record: it is deleted when the worker starts, and SQLite
runs without journal or fsync. Writes of a batch accumulate in one transaction that ``commit`` ends (the
worker commits after each batch; reads see the uncommitted writes).

Keys and values are raw bytes (the worker's tables use the raw codec); each key remembers the partition it
belongs to. ``MOTCUA_STREAMS_STORE=disk://`` (the default) selects it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import faust
from faust.stores import STORES, memory
from faust.types import TP, EventT

SCHEME = "disk"
PAGE_CACHE_KIB = 16 * 1024
"""SQLite's page cache per table (KiB): hot dossiers are in the worker's own decoded cache anyway."""
NO_PARTITION = -1


class DiskTable(MutableMapping[bytes, bytes]):
    """One table's keys and values in a SQLite file, each key with its partition."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)  # a cache of the changelog: what a previous run left is not trusted
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False)
        for pragma in (
            "journal_mode=OFF",
            "synchronous=OFF",
            "locking_mode=EXCLUSIVE",
            f"cache_size=-{PAGE_CACHE_KIB}",
            "temp_store=FILE",
        ):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute(
            "CREATE TABLE kv (key BLOB PRIMARY KEY, part INTEGER NOT NULL, value BLOB NOT NULL) WITHOUT ROWID"
        )
        self._db.execute("CREATE INDEX kv_part ON kv (part)")

    # ----------------------------------------------------------------------------------- writes

    def put(self, key: bytes, value: bytes, partition: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?, ?)", (key, partition, value))

    def put_many(self, rows: Iterable[tuple[bytes, int, bytes | None]]) -> None:
        """(key, partition, value) in order; a None value deletes the key (a changelog tombstone)."""
        upserts: list[tuple[bytes, int, bytes]] = []
        for key, partition, value in rows:
            if value is None:
                self._flush_upserts(upserts)
                self._db.execute("DELETE FROM kv WHERE key = ?", (key,))
            else:
                upserts.append((key, partition, value))
        self._flush_upserts(upserts)

    def _flush_upserts(self, upserts: list[tuple[bytes, int, bytes]]) -> None:
        if upserts:
            self._db.executemany("INSERT OR REPLACE INTO kv VALUES (?, ?, ?)", upserts)
            upserts.clear()

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
        row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return row[0]  # type: ignore[no-any-return]

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.put(key, value, NO_PARTITION)

    def __delitem__(self, key: bytes) -> None:
        if self._db.execute("DELETE FROM kv WHERE key = ?", (key,)).rowcount == 0:
            raise KeyError(key)

    def __iter__(self) -> Iterator[bytes]:
        for (key,) in self._db.execute("SELECT key FROM kv"):
            yield key

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM kv").fetchone()[0])

    def __contains__(self, key: object) -> bool:
        return self._db.execute("SELECT 1 FROM kv WHERE key = ?", (key,)).fetchone() is not None

    def items(self, partition: int | None = None) -> Iterator[tuple[bytes, bytes]]:  # type: ignore[override]
        """Every (key, value), or a partition's; read in one pass (the rows are fetched in chunks)."""
        if partition is None:
            cursor = self._db.execute("SELECT key, value FROM kv")
        else:
            cursor = self._db.execute("SELECT key, value FROM kv WHERE part = ?", (partition,))
        while rows := cursor.fetchmany(10_000):
            yield from rows

    def with_prefix(self, prefix: bytes) -> list[tuple[bytes, bytes]]:
        """Every (key, value) whose key starts with ``prefix`` (keys are ordered: one index range)."""
        upper = prefix[:-1] + bytes([prefix[-1] + 1])  # prefixes end with a separator byte below 0xff
        query = "SELECT key, value FROM kv WHERE key >= ? AND key < ?"
        return self._db.execute(query, (prefix, upper)).fetchall()

    def clear(self) -> None:
        self._db.execute("DELETE FROM kv")


class DiskStore(memory.Store):  # type: ignore[misc]
    """faust's memory store over a ``DiskTable`` instead of a dict (``self.data``, as the memory store names it);
    persisted offsets, backups and state resets stay the memory store's (none)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.data = DiskTable(Path(self.app.conf.tabledir) / f"{self.table_name}.sqlite")

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
        self.data.put_many((e.message.key, e.message.partition, e.message.value) for e in batch)
        self.data.commit()

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        self.data.keep_partitions({tp.partition for tp in active_tps})
        self.data.commit()

    def _clear(self) -> None:
        self.data.clear()

    async def on_stop(self) -> None:
        self.data.close()


def disk_table(table: faust.Table) -> DiskTable:
    """The ``DiskTable`` behind one of the worker's tables."""
    store = table.data
    assert isinstance(store, DiskStore), f"{table.name} is not in a {SCHEME}:// store"
    return store.data  # type: ignore[no-any-return]


STORES.aliases[SCHEME] = f"{__name__}:DiskStore"
