"""Records in, each dossier's valid events out, in bounded memory: what every audit reads through.

``add`` takes the records in arrival order (a file's lines, a partition's offsets) and sorts them into
buckets by dossier id (``audit.spill``); ``dossiers`` then decodes one bucket at a time and yields each
dossier's deduplicated valid events in arrival order. Every record is decided by the one decoder
(``dossier.contract.decode_record``): a valid event counts, a clock tick is counted and skipped, anything
else is reported with its number and reason and skipped. Invalid records claim nothing, so deduplication
sees valid events only. A record without a readable ``dossier_id`` is decided at once; the others when
their bucket is read, so with several buckets the reports are in line order within each group, not overall.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from types import TracebackType
from typing import TypeGuard

from audit.spill import BUCKET_BYTES, Bucket, Buckets, bucket_count
from dossier.contract import (
    ClockTick,
    InvalidRecord,
    ParsedEvent,
    Violation,
    decode_events,
    decode_record,
    dossier_key,
    dossier_keys,
)
from dossier.lifecycle import first_received

InvalidHandler = Callable[[int, list[Violation]], None]
"""Called with a record's number (its line, or its partition and offset) and why it is invalid."""


@dataclass(slots=True)
class ReadStats:
    """What a read saw, record by record; ``lines`` is the sum of the other counters."""

    lines: int = 0
    events: int = 0
    duplicates: int = 0
    invalid: int = 0
    ticks: int = 0
    blank: int = 0

    def summary(self) -> str:
        return (
            f"{self.lines} lines: {self.events} events, {self.duplicates} duplicates ignored, "
            f"{self.invalid} invalid, {self.ticks} clock ticks, {self.blank} blank"
        )

    def add(self, other: ReadStats) -> None:
        for name in self.__slots__:  # type: ignore[attr-defined]
            setattr(self, name, getattr(self, name) + getattr(other, name))


class DossierPass:
    """Group records by dossier (bounded memory), then hand out each dossier's valid events.

    ``expected_bytes`` sizes the buckets (an estimate: buckets that come out too large are split again).
    """

    def __init__(
        self,
        expected_bytes: int,
        on_invalid: InvalidHandler,
        spill_dir: Path | None = None,
        bucket_bytes: int = BUCKET_BYTES,
    ) -> None:
        self.stats = ReadStats()
        self._on_invalid = on_invalid
        self._buckets = Buckets(bucket_count(expected_bytes, bucket_bytes), spill_dir, bucket_bytes)
        self._reports: list[tuple[int, list[Violation]]] = []

    def __enter__(self) -> DossierPass:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._buckets.close()

    def add(self, number: int, record: bytes) -> None:
        """One record, in arrival order; a blank one (only white space) is counted and skipped."""
        self.add_many((number,), [record])

    def add_many(self, numbers: Sequence[int], records: list[bytes]) -> None:
        """Records in arrival order and their numbers: the reading hot path."""
        self.stats.lines += len(records)
        keys = dossier_keys(records)
        if keys is None:  # a record without a key: decided now, the others bucketed
            keys = list(map(dossier_key, records))
            keyed = [i for i, key in enumerate(keys) if key is not None]
            keyless = [(numbers[i], records[i]) for i, key in enumerate(keys) if key is None]
            numbers, records, keys = [numbers[i] for i in keyed], [records[i] for i in keyed], [keys[i] for i in keyed]
            self._decide_keyless(keyless)
        self._buckets.add_many(numbers, records, keys)
        if self._buckets.count > 1:
            self._report()

    def _decide_keyless(self, keyless: list[tuple[int, bytes]]) -> None:
        stats = self.stats
        for number, record in keyless:
            if not record or record.isspace():
                stats.blank += 1
                continue
            try:  # a clock tick, or an invalid record
                if isinstance(decode_record(record), ClockTick):
                    stats.ticks += 1
            except InvalidRecord as invalid:
                stats.invalid += 1
                self._reports.append((number, invalid.violations))

    def _report(self) -> None:
        """Report the invalid records decided so far, in the order of their numbers."""
        for number, violations in sorted(self._reports, key=_first):
            self._on_invalid(number, violations)
        self._reports.clear()

    @property
    def bucket_count(self) -> int:
        return self._buckets.count

    def dossiers(self) -> Iterator[Sequence[ParsedEvent]]:
        """Each dossier's valid events, deduplicated (the first received wins), in arrival order."""
        for bucket in self.by_bucket():
            yield from bucket

    def by_bucket(self) -> Iterator[Iterator[Sequence[ParsedEvent]]]:
        """``dossiers()`` bucket by bucket (consume each before the next).

        A bucket's dossiers are decoded one at a time, so that only the records (bytes) of the bucket and
        the events of one dossier are held; the bucket's invalid records are reported after its dossiers.
        """
        for parts in self._buckets.drain():
            yield self._bucket_dossiers(parts)

    def _bucket_dossiers(self, parts: Iterator[Bucket]) -> Iterator[Sequence[ParsedEvent]]:
        for part in parts:
            yield from self._part_dossiers(part)
        self._report()

    def _part_dossiers(self, bucket: Bucket) -> Iterator[Sequence[ParsedEvent]]:
        stats = self.stats
        all_valid = decode_events(bucket.data)  # nearly always: every record a valid event
        for indices in bucket.groups().values():
            if all_valid is not None:
                decoded: list[ParsedEvent | ClockTick] = [all_valid[i] for i in indices]
            else:
                try:
                    decoded = [decode_record(bucket.record(i)) for i in indices]
                except InvalidRecord:
                    decoded = self._decode_reporting(bucket, indices)
            if _one_dossier_no_repeats(decoded):  # nearly always: nothing to sort out
                stats.events += len(decoded)
                yield decoded
                continue
            events = [e for e in decoded if type(e) is ParsedEvent]
            stats.ticks += len(decoded) - len(events)
            if not events:
                continue
            for group in _by_dossier(events):
                kept = first_received(group)
                stats.events += len(kept)
                stats.duplicates += len(group) - len(kept)
                yield kept

    def _decode_reporting(self, bucket: Bucket, indices: list[int]) -> list[ParsedEvent | ClockTick]:
        """A group holding an invalid record, decoded one by one: the invalid ones counted and kept for the report."""
        decoded = []
        for i in indices:
            try:
                decoded.append(decode_record(bucket.record(i)))
            except InvalidRecord as invalid:
                self.stats.invalid += 1
                self._reports.append((bucket.numbers[i], invalid.violations))
        return decoded


def _first(item: tuple[int, list[Violation]]) -> int:
    return item[0]


def _one_dossier_no_repeats(decoded: list[ParsedEvent | ClockTick]) -> TypeGuard[list[ParsedEvent]]:
    """Whether decoded records are events of one dossier, each ``event_id`` once: one loop, where the general
    path (ticks filtered, the tag's dossiers split, repeats dropped) walks them several times."""
    if not decoded:
        return False
    event_ids = set()
    dossier_id = None
    for event in decoded:
        if type(event) is not ParsedEvent:
            return False
        record = event.record
        if record.dossier_id != dossier_id:
            if dossier_id is not None:
                return False
            dossier_id = record.dossier_id
        event_ids.add(record.event_id)
    return len(event_ids) == len(decoded)


def _by_dossier(events: list[ParsedEvent]) -> list[list[ParsedEvent]]:
    """Events of one tag split by dossier id: one group, unless two dossier ids share a hash."""
    if len(set(map(_dossier_id, events))) == 1:
        return [events]
    groups: dict[str, list[ParsedEvent]] = {}
    for event in events:
        groups.setdefault(event.record.dossier_id, []).append(event)
    return list(groups.values())


_dossier_id = attrgetter("record.dossier_id")
