"""Each partition's records applied once, in offset order, without holes, whatever faust delivers (pure).

The processing is a function of each partition's log, in order: a dossier's transitions, in particular,
follow the order its events were applied in. faust does not always deliver that order. After a rebalance
it can hand over a record fetched for the previous assignment, then none of those between the committed
offset and it; the two-worker SIGKILL test saw the record at the committed offset skipped and the ones
after it delivered (``events[1]: offsets from 1796 on were never delivered (first acknowledged: 1797)``).
Read again 15 s later (``streams.watchdog.HeadGaps``), the dossier's acceptance was applied after its
later events, and one ``finished`` transition differed from the pure core's over the log.

The worker's source topics have no holes (``streams.commits``), so a record past the next expected offset
means some were not delivered: it is not applied, and the partition is read again from the expected
offset. A record before it was applied already (a re-read) and is not applied twice.
"""

from __future__ import annotations

from collections.abc import Container, Hashable


class OffsetGate:
    """Per partition, the next offset to apply; which records to apply, and where to read again."""

    def __init__(self, retry_after: float) -> None:
        """``retry_after``: seconds before reading a partition again from the same offset (the records
        already fetched before a read-again still come, and are skipped)."""
        self._next: dict[Hashable, int] = {}
        self._holes: dict[Hashable, int] = {}
        self._retry_after = retry_after
        self._read_again: dict[Hashable, tuple[int, float]] = {}

    def start(self, partition: Hashable, next_offset: int) -> None:
        """The partition is (re)assigned: records from ``next_offset`` on are to be applied."""
        self._holes.pop(partition, None)
        self._next[partition] = next_offset

    def admit(self, partition: Hashable, offset: int) -> bool:
        """Whether to apply the record at ``offset`` (then the next one is expected). A partition never
        started (none of this worker's) has every record applied: the agent skips those it does not hold."""
        expected = self._next.get(partition)
        if expected is None or offset == expected:
            self._next[partition] = offset + 1
            self._holes.pop(partition, None)
            return True
        if offset > expected:
            self._holes[partition] = expected
        return False

    def next_offset(self, partition: Hashable) -> int | None:
        """The next offset to apply (every one before it was applied), None before ``start``."""
        return self._next.get(partition)

    def take_holes(self, now: float, held: Container[Hashable]) -> dict[Hashable, int]:
        """The partitions to read again, each from its expected offset: records are missing, it is ``held``
        (assigned to this worker), and it was not read again from there less than ``retry_after`` before ``now``.
        The holes of a partition no longer held are dropped: its new owner reads from the committed offset
        (and a seek of a partition not assigned fails).

        A hole stays until its record is applied: a read-again may deliver nothing at all (a fresh clone's
        `make test` saw a worker read a summaries partition again from 382, receive nothing more from it, and
        stall 180 s), so the partition is read again every ``retry_after`` until it does."""
        self._holes = {partition: offset for partition, offset in self._holes.items() if partition in held}
        due = {}
        for partition, offset in self._holes.items():
            last = self._read_again.get(partition)
            if last is None or last[0] != offset or now - last[1] >= self._retry_after:
                due[partition] = offset
                self._read_again[partition] = (offset, now)
        return due
