"""The open dossiers' status at one instant, tallied per cell, kept as dossiers change and the instant moves.

``LiveKpis`` needs, at every day's rollover, how many open dossiers of each cell are overdue, within due and
due soon: at the new period's end (its carried-over rows) and at the watermark (its provisional open
counts). Classifying every open dossier at each rollover cost time in proportion to the open dossiers
(~0.2 s per simulated day for 12 provinces at 25,000 open dossiers; five days off made five rollovers within
seconds). A book keeps the tallies instead: a dossier is classified when it is added, and again only when
the instant passes one at which its status can change (``dossier.transitions``: status only ever moves
from within due to due soon to overdue), so the work follows the changes, not the open dossiers.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator, Sequence

from dossier.calendar import WorkingCalendar
from dossier.kpi import Cell, cell_of
from dossier.lifecycle import DossierSummary
from dossier.sla import OpenStatus, open_status
from dossier.transitions import due_soon_at, overdue_at

Tally = list[int]
"""[overdue, within due (due soon included), of which due soon] of a set of open dossiers."""
STATUS_TALLY: dict[OpenStatus, tuple[int, int, int]] = {
    "overdue": (1, 0, 0), "within_due": (0, 1, 0), "due_soon": (0, 1, 1)}


def status_at(s: DossierSummary, at: float, calendar: WorkingCalendar) -> tuple[OpenStatus, float]:
    """An open dossier's status at ``at``, and the first instant after which it may differ (inf: never).

    Status only moves forward (within due, due soon, overdue), at the instants ``dossier.transitions`` gives.
    """
    status = open_status(at, s.due_ts, s.pauses, s.request_times, calendar)
    recheck = math.inf
    if status != "overdue":
        for instant in (due_soon_at(s, calendar), overdue_at(s)):
            if instant is not None and instant >= at:
                recheck = min(recheck, instant if instant > at else math.nextafter(at, math.inf))
    return status, recheck


def add_to_tally(tally: Tally, status: OpenStatus, sign: int) -> None:
    overdue, within_due, due_soon = STATUS_TALLY[status]
    tally[0] += sign * overdue
    tally[1] += sign * within_due
    tally[2] += sign * due_soon


class StatusBook:
    """Open dossiers' status at ``at`` (at their acceptance while ``at`` is before it), tallied per cell.

    ``at`` only moves forward in normal use; moving it back classifies every dossier again.
    """

    def __init__(self, calendar: WorkingCalendar) -> None:
        self._calendar = calendar
        self.at = -math.inf
        self.tallies: dict[Cell, Tally] = {}
        self._entries: dict[str, tuple[DossierSummary, OpenStatus, float]] = {}  # id -> (summary, status, recheck)
        self._rechecks: list[tuple[float, str]] = []  # heap; an entry is stale when the dossier's recheck moved on

    def status(self, dossier_id: str) -> OpenStatus:
        return self._entries[dossier_id][1]

    def status_of(self, s: DossierSummary) -> OpenStatus:
        """The dossier's status, added to the book first if it is not in it."""
        if s.dossier_id not in self._entries:
            self.add(s)
        return self._entries[s.dossier_id][1]

    def add(self, s: DossierSummary) -> None:
        status, recheck = status_at(s, max(self.at, s.accepted_ts), self._calendar)
        self._entries[s.dossier_id] = (s, status, recheck)
        add_to_tally(self.tallies.setdefault(cell_of(s), [0, 0, 0]), status, 1)
        if recheck != math.inf:
            heapq.heappush(self._rechecks, (recheck, s.dossier_id))

    def remove(self, dossier_id: str) -> None:
        s, status, _ = self._entries.pop(dossier_id)
        add_to_tally(self.tallies[cell_of(s)], status, -1)

    def discard(self, dossier_id: str) -> None:
        if dossier_id in self._entries:
            self.remove(dossier_id)

    def replace(self, s: DossierSummary) -> None:
        """A new summary of a dossier whose status inputs and cell did not change (``LiveKpis._open_key``)."""
        _, status, recheck = self._entries[s.dossier_id]
        self._entries[s.dossier_id] = (s, status, recheck)

    def move_to(self, at: float) -> list[tuple[DossierSummary, OpenStatus, OpenStatus]]:
        """Classify at ``at`` from now on; returns the dossiers whose status changed: (summary, before, after)."""
        if at < self.at:
            entries, self._entries, self.tallies, self._rechecks = self._entries, {}, {}, []
            self.at = at
            for s, _, _ in entries.values():
                self.add(s)
            return [(s, before, self._entries[s.dossier_id][1]) for s, before, _ in entries.values()
                    if self._entries[s.dossier_id][1] != before]
        self.at = at
        changed = []
        heap, entries = self._rechecks, self._entries
        while heap and heap[0][0] <= at:
            recheck, dossier_id = heapq.heappop(heap)
            entry = entries.get(dossier_id)
            if entry is None or entry[2] != recheck:
                continue  # stale: the dossier left, changed or was rechecked since
            s, before, _ = entry
            after, next_recheck = status_at(s, max(at, s.accepted_ts), self._calendar)
            entries[dossier_id] = (s, after, next_recheck)
            if next_recheck != math.inf:
                heapq.heappush(heap, (next_recheck, dossier_id))
            if after != before:
                tally = self.tallies[cell_of(s)]
                add_to_tally(tally, before, -1)
                add_to_tally(tally, after, 1)
                changed.append((s, before, after))
        return changed

    def tallies_through(self, ends: Sequence[float]) -> Iterator[dict[Cell, Tally]]:
        """The tallies at each of ``ends`` (increasing, none before ``at``), leaving the book at ``at``: for the
        periods a rollover appends beyond the day (a week's, a month's end; a tick far ahead, a year of days).
        Each dossier is classified once per status change on the way. A yielded dict changes with the next."""
        last = ends[-1]
        entries = self._entries
        pending = {dossier_id: recheck for recheck, dossier_id in self._rechecks
                   if recheck <= last and dossier_id in entries and entries[dossier_id][2] == recheck}
        if not pending:
            for _ in ends:
                yield self.tallies
            return
        tallies = {cell: list(tally) for cell, tally in self.tallies.items()}
        heap = [(recheck, dossier_id) for dossier_id, recheck in pending.items()]
        heapq.heapify(heap)
        statuses: dict[str, OpenStatus] = {}
        for end in ends:
            while heap and heap[0][0] <= end:
                _, dossier_id = heapq.heappop(heap)
                s, status, _ = entries[dossier_id]
                before = statuses.get(dossier_id, status)
                after, recheck = status_at(s, max(end, s.accepted_ts), self._calendar)
                if after != before:
                    add_to_tally(tallies[cell_of(s)], before, -1)
                    add_to_tally(tallies[cell_of(s)], after, 1)
                    statuses[dossier_id] = after
                if recheck <= last:
                    heapq.heappush(heap, (recheck, dossier_id))
            yield tallies
