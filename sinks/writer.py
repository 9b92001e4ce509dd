"""Inserting a batch into ClickHouse: one INSERT per table, retried until acknowledged, bad rows isolated.

Errors fall in two kinds. A *data* error belongs to some rows (a value the column type cannot hold, found
by clickhouse-driver while serialising, or a server code saying so): the insert is split in halves until
the refused rows stand alone, and those go back to the caller for the DLQ. Anything else (connection
refused, timeouts, a missing table, an unknown server error) is ClickHouse being unavailable: the whole
insert is retried with exponential backoff, indefinitely, and never turned into data loss. Re-inserting
rows that may already have landed is harmless: every table deduplicates.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from clickhouse_driver.errors import ServerException, TypeMismatchError

from sinks import open_dossiers
from sinks.batch import Batch
from sinks.processors import Message, Refusal
from sinks.tables import SINK_BATCHES, TRANSITIONS, Table
from wire.runtime import clickhouse_client

log = logging.getLogger(__name__)

#: Server codes that blame the inserted data (parse, range and type errors; too many partitions per block).
DATA_ERROR_CODES = frozenset({6, 27, 38, 41, 53, 69, 70, 72, 117, 131, 321})
TOO_MANY_PARTS = 252
#: Seconds between ``sink_batches`` inserts. One more INSERT per batch cost ~10% of a 15,000-event batch's
#: write on ClickHouse 18.16 (a new part each time); the log's rows wait for the next flush instead.
LOG_EVERY = 10.0
T = TypeVar("T")


class Stopped(Exception):
    """The sink is shutting down while ClickHouse is unavailable: the batch stays uncommitted."""


def is_data_error(error: BaseException) -> bool:
    if isinstance(error, TypeMismatchError | TypeError | ValueError | OverflowError | UnicodeError):
        return True
    if isinstance(error, ServerException):
        code = error.code
        return code in DATA_ERROR_CODES or (code == TOO_MANY_PARTS and "partitions for single INSERT" in str(error))
    return False


class Backoff:
    """Exponential delays between attempts: ``first``, doubling, at most ``cap`` seconds."""

    def __init__(self, first: float = 0.2, cap: float = 5.0) -> None:
        self.first, self.cap = first, cap

    def delay(self, attempt: int) -> float:
        return min(self.cap, self.first * 2 ** max(0, attempt - 1))


class ClickHouseWriter:
    """Owns one clickhouse-driver connection; used from one thread at a time (the sink's writer thread)."""

    def __init__(
        self,
        settings: dict[str, Any],
        database: str,
        backoff: Backoff | None = None,
        stop: threading.Event | None = None,
        on_retry: Callable[[BaseException], None] = lambda _: None,
        on_insert: Callable[[Table, int, float], None] = lambda *_: None,
        sweeper: open_dossiers.Sweeper | None = None,
    ) -> None:
        self._client = clickhouse_client(settings, database=database, connect_timeout=3, send_receive_timeout=30)
        self.database = database
        self.backoff = backoff or Backoff()
        self.stop = stop or threading.Event()
        self.on_retry = on_retry
        self.on_insert = on_insert
        self._log_rows: list[tuple[Any, ...]] = []
        self._logged_at = -LOG_EVERY  # the first batch's rows go at once
        self.sweeper = sweeper  # None: another sink lands the transitions, and sweeps what they snapshot

    def write(self, batch: Batch) -> list[Refusal]:
        """Store every table of the batch, then the snapshots of the dossiers its transitions touched (after
        ``dossiers`` has their rows); returns the rows ClickHouse refused (as DLQ refusals)."""
        started = time.monotonic()
        refused: list[Refusal] = []
        touched: list[tuple[str, int]] = []
        for rows in batch.non_empty():
            refusals = self._retrying(rows.table.name, partial(self._insert, rows.table, rows.columns, rows.sources))
            refused += refusals
            if rows.table.name == TRANSITIONS.name:  # the stored ones only: a refused row may not even fit a UInt32
                touched = open_dossiers.touched(_without(rows.columns, rows.sources, refusals))
        if touched:
            self._retrying("open_dossiers", partial(open_dossiers.snapshot, self._client, self.database, touched))
        self._sweep()
        self._log(batch, (time.monotonic() - started) * 1000)
        return refused

    def _sweep(self) -> None:
        """The next step of the ``open_dossiers`` sweep; an error waits for the next batch (the data is stored)."""
        if self.sweeper is None:
            return
        try:
            self.sweeper.step(self._client)
        except Exception as error:
            self._client.disconnect()
            log.warning("open_dossiers sweep: %s", str(error).splitlines()[0] if str(error) else error)

    def _log(self, batch: Batch, write_ms: float) -> None:
        self._log_rows += batch.log_rows(time.time(), write_ms)
        if self._log_rows and time.monotonic() - self._logged_at >= LOG_EVERY:
            self.flush_log()

    def flush_log(self) -> None:
        """One try at the ``sink_batches`` rows kept so far: telemetry never holds the data back (no retry)."""
        rows, self._log_rows, self._logged_at = self._log_rows, [], time.monotonic()
        if not rows:
            return
        try:
            self._client.execute(SINK_BATCHES.insert_sql(self.database), [list(c) for c in zip(*rows, strict=True)],
                                 columnar=True)
        except Exception as error:  # e.g. a database not yet migrated to 0006: the data is stored all the same
            self._client.disconnect()
            log.warning("%d sink_batches rows not written: %s", len(rows),
                        str(error).splitlines()[0] if str(error) else error)

    def _retrying(self, table: str, action: Callable[[], T]) -> T:
        """``action`` (an insert into ``table``) until it succeeds: any error it raises means "not stored yet"."""
        attempt = 0
        while True:
            try:
                return action()
            except Exception as error:
                attempt += 1
                self._client.disconnect()
                self.on_retry(error)
                delay = self.backoff.delay(attempt)
                log.warning("ClickHouse insert into %s failed (attempt %d, retry in %.1f s): %s",
                            table, attempt, delay, str(error).splitlines()[0])
                if self.stop.wait(delay):
                    raise Stopped(f"stopped while retrying an insert into {table}") from error

    def _insert(self, table: Table, columns: list[list[Any]], sources: list[Message]) -> list[Refusal]:
        """Insert the rows, splitting around data errors; raises anything else."""
        started = time.monotonic()
        try:
            self._client.execute(table.insert_sql(self.database), columns, columnar=True)
        except Exception as error:
            if not is_data_error(error):
                raise
            if len(sources) == 1:
                message = str(error).splitlines()[0] if str(error) else type(error).__name__
                return [Refusal(sources[0], "sink", f"ClickHouse refused the row for {table.name}: {message}")]
            half = len(sources) // 2
            return self._insert(table, [c[:half] for c in columns], sources[:half]) + self._insert(
                table, [c[half:] for c in columns], sources[half:]
            )
        self.on_insert(table, len(sources), time.monotonic() - started)
        return []

    def close(self) -> None:
        self.flush_log()
        self._client.disconnect()


def _without(columns: list[list[Any]], sources: list[Message], refusals: list[Refusal]) -> list[list[Any]]:
    """The columns without the rows of the refused records."""
    if not refusals:
        return columns
    refused = {id(refusal.message) for refusal in refusals}
    kept = [i for i, source in enumerate(sources) if id(source) not in refused]
    return [[column[i] for i in kept] for column in columns]
