"""One province's KPI rows, kept up to date as dossier summaries change and event time advances.

The live rows are the batch rows computed incrementally, by the same ``PeriodTable`` and ``add_contribution``:
a changed dossier is uncounted with its old summary and counted with its new one. Periods are appended as
event time reaches them, counting the dossiers still open at their start (carried over).

A period whose end the province watermark has passed is *final*: its row is exactly what ``motcua kpi``
prints for the same events. A period not yet over is *provisional*: its open dossiers are classified at the
watermark instead of at the period's end (DOMAIN.md section 7).

The work per call of ``changed_rows`` follows what changed, not the size of the state: every scope's row
totals are kept as dossiers are counted (instead of summing cells at each read), per provisional period a
tally of its open dossiers by row and status is kept up to date, and a dossier's status is
recomputed only when the watermark reaches an instant at which it can change (its due-soon and overdue
instants, ``dossier.transitions``; status only ever moves from within due to due soon to overdue).

Periods are materialised up to the watermark only, plus ``AHEAD``: a dossier accepted later than that
(an outlier dated 2099, a source whose clock runs ahead) is held aside, counted in nothing, until the
watermark comes within ``AHEAD`` of its acceptance. Counting it at once would append every day period up to
it and carry every open dossier into each (a worker went from 572 MB to 14 GB on 24 such events). Rows are
unaffected once final: a held dossier is counted before the watermark reaches the first period it is in.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from datetime import date
from functools import cache
from typing import Any

from dossier.calendar import WorkingCalendar, date_of_day, format_instant, local_day
from dossier.kpi import (
    COUNT_FIELDS,
    OPEN_DUE_SOON,
    OPEN_OVERDUE,
    OPEN_WITHIN_DUE,
    SCOPES,
    TO_PROCESS,
    Cell,
    Counts,
    PeriodTable,
    Scope,
    add_contribution,
    cell_of,
    kpi_row,
    scope_id_of,
)
from dossier.lifecycle import DossierSummary
from dossier.periods import PERIOD_KINDS, Period, PeriodKind, make_period, period_start
from dossier.sla import OpenStatus, open_status
from dossier.transitions import due_soon_at, overdue_at

RowKey = tuple[Scope, str, PeriodKind, int]
"""(scope, scope_id, period kind, period index in that kind's table)."""
ScopeId = tuple[Scope, str]

_NO_WATERMARK = float("-inf")
_TALLY_INDEX: dict[OpenStatus, int] = {"overdue": 0, "within_due": 1, "due_soon": 1}
Tally = list[int]
"""[open overdue, open within due, of which due soon] of a row in a provisional period."""
_ZERO = (0,) * len(COUNT_FIELDS)
AHEAD = 2 * 86400.0
"""How far past the watermark a dossier's acceptance may lie and still be counted (seconds)."""


def row_key_text(row: dict[str, Any]) -> str:
    """The Kafka key of a KPI row: ``scope/scope_id/period/period_start``."""
    return f"{row['scope']}/{row['scope_id']}/{row['period']}/{row['period_start']}"


@cache
def _scope_ids(cell: Cell) -> tuple[ScopeId, ...]:
    """The rows a cell adds to: one per scope (none for the field scope of a dossier without a field)."""
    return tuple((scope, scope_id) for scope in SCOPES if (scope_id := scope_id_of(cell, scope)) is not None)


class _RowTable(PeriodTable):
    """One period kind's counts as every scope's row totals, and the rows changed since they were read.

    Live rows are read at every emission: summing a province's cells at each read cost more than keeping
    the sums as dossiers are counted.
    """

    def __init__(self, kind: PeriodKind, first: Period, calendar: WorkingCalendar) -> None:
        self.kind = kind
        self.rows: list[dict[ScopeId, Counts]] = []  # per period index
        self.touched: set[RowKey] = set()
        super().__init__([first], calendar)

    def append_period(self, period: Period) -> int:
        self.rows.append({})
        return super().append_period(period)

    def add_to_period(self, s: DossierSummary, i: int, sign: int = 1) -> None:
        delta = [0] * len(COUNT_FIELDS)
        add_contribution(delta, s, self._starts[i], self._ends[i], self._calendar, sign)
        self._apply(delta, cell_of(s), i)

    def recount(self, old: DossierSummary | None, new: DossierSummary | None) -> None:
        """Count ``new`` instead of ``old`` (a dossier's summary changed): only the rows of the periods whose
        counts differ are touched (a change late in a dossier's life leaves its earlier days as they were)."""
        if old is None or new is None or cell_of(old) != cell_of(new):
            if old is not None:
                self.add(old, -1)
            if new is not None:
                self.add(new)
            return
        before, after = self.span(old), self.span(new)
        cell, calendar = cell_of(new), self._calendar
        for i in range(min(before.start, after.start), max(before.stop, after.stop)):
            delta = [0] * len(COUNT_FIELDS)
            if i in before:
                add_contribution(delta, old, self._starts[i], self._ends[i], calendar, -1)
            if i in after:
                add_contribution(delta, new, self._starts[i], self._ends[i], calendar, 1)
            self._apply(delta, cell, i)

    def _apply(self, delta: Counts, cell: Cell, i: int) -> None:
        changes = [(k, v) for k, v in enumerate(delta) if v]
        if not changes:
            return
        rows, kind, touched = self.rows[i], self.kind, self.touched
        for scope_id in _scope_ids(cell):
            counts = rows.get(scope_id)
            if counts is None:
                counts = rows[scope_id] = [0] * len(COUNT_FIELDS)
            for k, v in changes:
                counts[k] += v
            touched.add((*scope_id, kind, i))


def _open_key(s: DossierSummary) -> tuple[object, ...]:
    """What the open tallies read of a summary: equal keys, equal tallies and status at any watermark."""
    return (cell_of(s), s.accepted_ts, s.end_ts, s.due_ts, s.pauses, s.request_times)


def _open_at_end(s: DossierSummary, end: float) -> bool:
    """Whether the dossier is still open at a period's end (the table counts it as open there)."""
    return s.accepted_ts < end and (s.end_ts is None or s.end_ts >= end)


class LiveKpis:
    """The KPI rows of every scope and period kind of one province (pure: no I/O, no wall clock)."""

    def __init__(self, calendar: WorkingCalendar) -> None:
        self._calendar = calendar
        self._summaries: dict[str, DossierSummary] = {}
        self._tables: dict[PeriodKind, _RowTable] = {}
        self._unfinished: set[str] = set()  # dossiers that may still be open at the start of a new period
        self._watermark = _NO_WATERMARK
        self._emitted: dict[tuple[Scope, str, PeriodKind, date], tuple[bool, tuple[int, ...]]] = {}
        self._final_through: dict[PeriodKind, int] = {kind: -1 for kind in PERIOD_KINDS}
        self._rebuilt = False
        # open dossiers of the provisional periods, classified at the watermark
        self._open: dict[tuple[PeriodKind, int], dict[ScopeId, Tally]] = {}
        self._open_changed: set[RowKey] = set()
        self._status: dict[str, tuple[OpenStatus, float]] = {}  # dossier -> (status, watermark to recheck at)
        self._rechecks: list[tuple[float, str]] = []  # heap; an entry is stale when ``_status`` moved on
        self._held: dict[str, DossierSummary] = {}  # accepted past the watermark + AHEAD: not counted yet
        self._held_order: list[tuple[float, str]] = []  # heap by acceptance; stale when ``_held`` moved on

    @property
    def watermark(self) -> float:
        return self._watermark

    # ---------------------------------------------------------------------------------------- inputs

    def update(self, dossier_id: str, summary: DossierSummary | None) -> None:
        """Replace a dossier's summary (None: the dossier no longer counts, e.g. never accepted)."""
        if summary is not None and summary.accepted_ts >= self._watermark + AHEAD:
            self._count(dossier_id, None)
            self._held[dossier_id] = summary
            heapq.heappush(self._held_order, (summary.accepted_ts, dossier_id))
            return
        self._held.pop(dossier_id, None)
        self._count(dossier_id, summary)

    def _count(self, dossier_id: str, summary: DossierSummary | None) -> None:
        if summary is None and dossier_id not in self._summaries:
            return
        if summary is not None:
            self._cover(summary.accepted_ts)  # before the old summary leaves: new periods count it, then move it
        old = self._summaries.pop(dossier_id, None)
        self._unfinished.discard(dossier_id)
        for table in self._tables.values():
            table.recount(old, summary)
        if old is None or summary is None or _open_key(old) != _open_key(summary):
            if old is not None:
                self._tally(old, -1)
                self._status.pop(dossier_id, None)
            if summary is not None:
                self._tally(summary, 1)
        if summary is not None:
            self._summaries[dossier_id] = summary
            self._unfinished.add(dossier_id)

    def advance(self, watermark: float) -> None:
        """Move the province watermark (the minimum over the source partitions) forward; never back."""
        if watermark <= self._watermark:
            return
        self._watermark = watermark
        held = self._held_order
        while held and held[0][0] < watermark + AHEAD:
            accepted_ts, dossier_id = heapq.heappop(held)
            s = self._held.get(dossier_id)
            if s is not None and s.accepted_ts == accepted_ts:
                del self._held[dossier_id]
                self._count(dossier_id, s)
        self._recheck_statuses()
        if self._tables:
            self._cover(watermark)

    # --------------------------------------------------------------------------------------- outputs

    def changed_rows(self) -> list[dict[str, Any]]:
        """The rows (kpi-row/1) that changed since the last call, final or provisional.

        A row whose dossiers all moved elsewhere comes back once with ``to_process`` 0: it no longer exists.
        """
        candidates, self._open_changed = self._open_changed, set()
        for kind, table in self._tables.items():
            candidates |= table.touched
            table.touched.clear()
            # rows that became final change their flag and their open counts (classified at the period's end)
            first = 0 if self._rebuilt else self._final_through[kind] + 1
            self._final_through[kind] = last_final = self._last_final_index(kind)
            for i in range(first, len(table.periods) if self._rebuilt else last_final + 1):
                candidates.update((scope, scope_id, kind, i) for scope, scope_id in table.rows[i])
            for i in range(first, last_final + 1):
                self._open.pop((kind, i), None)
        if self._rebuilt:  # rows sent before that the recount leaves empty must be sent once more, as deletions
            index = {(kind, period.start): i for kind, t in self._tables.items() for i, period in enumerate(t.periods)}
            candidates.update((scope, sid, kind, index[(kind, day)]) for scope, sid, kind, day in self._emitted)
        self._rebuilt = False
        changed = []
        for key in sorted(candidates):
            scope, scope_id, kind, i = key
            table = self._tables[kind]
            counts = list(table.rows[i].get((scope, scope_id), _ZERO))
            final = i <= self._final_through[kind]
            if not final:  # open dossiers as they stand at the watermark, not at the period's end
                tally = self._open.get((kind, i), {}).get((scope, scope_id), (0, 0, 0))
                counts[OPEN_OVERDUE], counts[OPEN_WITHIN_DUE], counts[OPEN_DUE_SOON] = tally
            period = table.periods[i]
            emitted_key = (scope, scope_id, kind, period.start)
            state = (final, tuple(counts))
            if self._emitted.get(emitted_key) == state or (emitted_key not in self._emitted and not counts[TO_PROCESS]):
                continue
            self._emitted[emitted_key] = state
            row = kpi_row(scope, scope_id, period, counts)
            row["provisional"] = not final
            row["watermark"] = format_instant(self._watermark) if self._watermark != _NO_WATERMARK else None
            changed.append(row)
        return changed

    # ---------------------------------------------------------------------------------------- periods

    def _cover(self, ts: float) -> None:
        """Make every period kind's table reach the period containing ``ts``."""
        day = date_of_day(local_day(ts))
        if not self._tables:
            for kind in PERIOD_KINDS:
                self._tables[kind] = _RowTable(kind, make_period(kind, period_start(kind, day)), self._calendar)
                self._tally_period(kind, 0)
            return
        if ts < min(table.periods[0].start_ts for table in self._tables.values()):
            self._rebuild_from(day)
            return
        appended = False
        for kind, table in self._tables.items():
            while table.periods[-1].end_ts <= ts:
                i = table.append_period(make_period(kind, table.periods[-1].end))
                self._carry_over_into(table, i)
                self._tally_period(kind, i)
                appended = True
        if appended:
            self._forget_finished()

    def _carry_over_into(self, table: _RowTable, i: int) -> None:
        """Count, in a newly appended period, the dossiers still open at its start."""
        start = table.periods[i].start_ts
        for dossier_id in self._unfinished:
            s = self._summaries[dossier_id]
            if (s.end_ts is None or s.end_ts >= start) and s.accepted_ts < start:
                table.add_to_period(s, i)

    def _forget_finished(self) -> None:
        """Drop from ``_unfinished`` the dossiers finished before every table's last period started."""
        horizon = min(table.periods[-1].start_ts for table in self._tables.values())
        self._unfinished = {d for d in self._unfinished if (end := self._summaries[d].end_ts) is None or end >= horizon}

    def _rebuild_from(self, day: date) -> None:
        """A dossier accepted before the first period: start every table earlier and count everyone again."""
        last = max(table.periods[-1].start_ts for table in self._tables.values())
        summaries = list(self._summaries.values())
        self._tables = {
            kind: _RowTable(kind, make_period(kind, period_start(kind, day)), self._calendar) for kind in PERIOD_KINDS
        }
        self._final_through = {kind: -1 for kind in PERIOD_KINDS}
        self._rebuilt = True
        self._open, self._open_changed = {}, set()
        unfinished, self._unfinished = self._unfinished, set()
        self._cover(last)  # with nobody to carry over: everyone is counted afresh below
        self._unfinished = unfinished
        for s in summaries:
            for table in self._tables.values():
                table.add(s)
        for kind, table in self._tables.items():
            for i in range(len(table.periods)):
                self._tally_period(kind, i, self._summaries)

    def _last_final_index(self, kind: PeriodKind) -> int:
        periods = self._tables[kind].periods
        i = self._final_through[kind]
        while i + 1 < len(periods) and periods[i + 1].end_ts <= self._watermark:
            i += 1
        return i

    # ------------------------------------------------------------ open dossiers at the watermark

    def _status_of(self, dossier_id: str, s: DossierSummary) -> OpenStatus:
        """The open dossier's status at the watermark (at its acceptance while the watermark is before it)."""
        known = self._status.get(dossier_id)
        if known is not None:
            return known[0]
        at = max(self._watermark, s.accepted_ts)
        status = open_status(at, s.due_ts, s.pauses, s.request_times, self._calendar)
        recheck = math.inf
        if status != "overdue":  # the status can change only where the watermark reaches one of these
            for instant in (due_soon_at(s, self._calendar), overdue_at(s)):
                if instant is not None and instant >= at:
                    recheck = min(recheck, instant if instant > at else math.nextafter(at, math.inf))
        self._status[dossier_id] = (status, recheck)
        if recheck != math.inf:
            heapq.heappush(self._rechecks, (recheck, dossier_id))
        return status

    def _open_in(self, s: DossierSummary) -> Iterable[tuple[PeriodKind, int]]:
        """The tallied (provisional) periods at whose end the dossier is open."""
        for kind, i in self._open:
            if _open_at_end(s, self._tables[kind].periods[i].end_ts):
                yield kind, i

    def _tally(self, s: DossierSummary, sign: int, status: OpenStatus | None = None) -> None:
        """Count (or uncount) the dossier in the open tallies of the provisional periods it is open in."""
        for kind, i in self._open_in(s):
            if status is None:
                status = self._status_of(s.dossier_id, s)
            self._count_open(kind, i, cell_of(s), status, sign)

    def _tally_period(self, kind: PeriodKind, i: int, candidates: Iterable[str] | None = None) -> None:
        """Start the open tally of a period not yet over from ``candidates``, the dossiers that may be open
        at its end (default: those not finished before the last periods started, enough for a new period)."""
        end = self._tables[kind].periods[i].end_ts
        if end <= self._watermark:
            return  # final: its rows classify open dossiers at its end, as the batch does
        self._open[(kind, i)] = {}
        for dossier_id in self._unfinished if candidates is None else candidates:
            s = self._summaries[dossier_id]
            if _open_at_end(s, end):
                self._count_open(kind, i, cell_of(s), self._status_of(dossier_id, s), 1)

    def _count_open(self, kind: PeriodKind, i: int, cell: Cell, status: OpenStatus, sign: int) -> None:
        tallies = self._open[(kind, i)]
        for scope_id in _scope_ids(cell):
            tally = tallies.get(scope_id)
            if tally is None:
                tally = tallies[scope_id] = [0, 0, 0]
            tally[_TALLY_INDEX[status]] += sign
            if status == "due_soon":
                tally[2] += sign
            self._open_changed.add((*scope_id, kind, i))

    def _recheck_statuses(self) -> None:
        """Reclassify the dossiers whose status the new watermark may have changed."""
        heap = self._rechecks
        while heap and heap[0][0] <= self._watermark:
            at, dossier_id = heapq.heappop(heap)
            known = self._status.get(dossier_id)
            if known is None or known[1] != at:
                continue  # a stale entry: the dossier changed or was rechecked since
            s = self._summaries[dossier_id]
            del self._status[dossier_id]
            status = self._status_of(dossier_id, s)
            if status != known[0]:
                self._tally(s, -1, known[0])
                self._tally(s, 1, status)
