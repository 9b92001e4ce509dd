"""One batch of the sink: the rows of every table, the refused records, and the offsets to commit after."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sinks.processors import Message, Processed, Refusal
from sinks.tables import Table


@dataclass(slots=True)
class TableRows:
    """A table's columns (INSERT order) and, row by row, the record each row came from."""

    table: Table
    columns: list[list[Any]]
    sources: list[Message]

    @classmethod
    def empty(cls, table: Table) -> TableRows:
        return cls(table, [[] for _ in table.columns], [])

    def extend(self, processed: Processed) -> None:
        for column, new in zip(self.columns, processed.columns, strict=True):
            column.extend(new)
        self.sources.extend(processed.sources)

    def __len__(self) -> int:
        return len(self.sources)


@dataclass(slots=True)
class Span:
    """What a batch read of one topic-partition: its first offset, records, and the rows they made."""

    first_offset: int
    records: int = 0
    rows: int = 0


@dataclass(slots=True)
class Batch:
    """Records consumed since the last flush; ``next_offsets`` is what to commit once they are stored."""

    tables: dict[str, TableRows] = field(default_factory=dict)
    refusals: list[Refusal] = field(default_factory=list)
    next_offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    records: int = 0
    skipped: int = 0
    opened_at: float | None = None  # time.monotonic() of the first record
    last_added_at: float | None = None  # time.monotonic() of the last record
    spans: dict[tuple[str, int], Span] = field(default_factory=dict)
    highwater: dict[tuple[str, int], int] = field(default_factory=dict)  # set when the batch is submitted

    def add(self, topic: str, partition: int, messages: Sequence[Message], processed: Processed) -> None:
        """Add a chunk of one partition's records (in offset order) and what its processor made of them."""
        if not messages:
            return
        now = time.monotonic()
        if self.opened_at is None:
            self.opened_at = now
        self.last_added_at = now
        rows = self.tables.get(processed.table.name)
        if rows is None:
            rows = self.tables[processed.table.name] = TableRows.empty(processed.table)
        rows.extend(processed)
        self.refusals.extend(processed.refusals)
        self.skipped += processed.skipped
        self.records += len(messages)
        self.next_offsets[(topic, partition)] = messages[-1].offset + 1
        span = self.spans.get((topic, partition))
        if span is None:
            span = self.spans[(topic, partition)] = Span(messages[0].offset)
        span.records += len(messages)
        span.rows += len(processed.sources)

    def age(self, now: float) -> float:
        return 0.0 if self.opened_at is None else now - self.opened_at

    def quiet_for(self, now: float) -> float:
        """Seconds since the last record was added (0 for an empty batch)."""
        return 0.0 if self.last_added_at is None else now - self.last_added_at

    def rows(self) -> int:
        return sum(len(t) for t in self.tables.values())

    def non_empty(self) -> Iterator[TableRows]:
        return (t for t in self.tables.values() if len(t))

    def log_rows(self, written_at: float, write_ms: float) -> list[tuple[Any, ...]]:
        """``sink_batches`` rows: one per topic-partition; lag is -1 when the high watermark is unknown."""
        return [
            (int(written_at), topic, partition, span.first_offset, self.next_offsets[(topic, partition)],
             span.records, span.rows,
             self.highwater[(topic, partition)] - self.next_offsets[(topic, partition)]
             if (topic, partition) in self.highwater else -1, write_ms)
            for (topic, partition), span in self.spans.items()
        ]
