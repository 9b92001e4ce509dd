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
instants, ``dossier.transitions``; status only ever moves from within due to due soon to overdue). A
rollover (event time crossing midnight) likewise costs the dossiers finished that day and the status changes,
not the open dossiers: those with no end yet are tallied per cell in two books (``dossier.status_book``), one
at the watermark and one at the end of the newest day.

Periods are materialised up to the watermark only, plus ``AHEAD``: a dossier accepted later than that
(an outlier dated 2099, a source whose clock runs ahead) is held aside, counted in nothing, until the
watermark comes within ``AHEAD`` of its acceptance. Counting it at once would append every day period up to
it and carry every open dossier into each (a worker went from 572 MB to 14 GB on 24 such events). Rows are
unaffected once final: a held dossier is counted before the watermark reaches the first period it is in.

Memory follows the open dossiers, not every dossier seen, when the caller keeps the summaries (an
``Archive``: the streams worker's table on disk). A finished dossier is needed again only when a later
event changes its summary (to uncount the old one) or when earlier periods are added: it is then read
from the archive. Without an archive every summary stays in memory.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from functools import cache
from typing import Any

import msgspec

from dossier.calendar import WorkingCalendar, date_of_day, format_instant, local_day
from dossier.kpi import (
    CARRIED_OVER,
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
from dossier.sla import OpenStatus
from dossier.status_book import STATUS_TALLY, StatusBook, Tally

RowKey = tuple[Scope, str, PeriodKind, int]
"""(scope, scope_id, period kind, period index in that kind's table)."""
ScopeId = tuple[Scope, str]

_NO_WATERMARK = float("-inf")
_ZERO = (0,) * len(COUNT_FIELDS)
AHEAD = 2 * 86400.0
"""How far past the watermark a dossier's acceptance may lie and still be counted (seconds)."""
PACK_AFTER = 3 * 86400.0
"""Final periods that ended this long before the watermark keep their rows packed (seconds)."""
_pack = msgspec.msgpack.Encoder().encode
_unpack = msgspec.msgpack.Decoder(list[tuple[str, str, list[int]]]).decode


class Archive:
    """Where the caller keeps every summary it passed to ``LiveKpis.update``, written after the call."""

    def __init__(
        self, get: Callable[[str], DossierSummary | None], every: Callable[[], Iterable[DossierSummary]]
    ) -> None:
        self.get = get  # the summary last passed for a dossier (None: never)
        self.every = every  # every summary of the province, as last passed


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
        self.rows: list[dict[ScopeId, Counts] | bytes] = []  # per period index; bytes: packed (``pack_through``)
        self.touched: set[RowKey] = set()
        self.packed_through = -1
        self._unpacked: set[int] = set()  # packed periods a late change unpacked since
        super().__init__([first], calendar)

    def append_period(self, period: Period) -> int:
        self.rows.append({})
        return super().append_period(period)

    def period_rows(self, i: int) -> dict[ScopeId, Counts]:
        """Period ``i``'s rows (unpacked if they were packed)."""
        rows = self.rows[i]
        if isinstance(rows, bytes):
            rows = self.rows[i] = {(scope, scope_id): counts for scope, scope_id, counts in _unpack(rows)}
            self._unpacked.add(i)
        return rows

    def pack_through(self, last: int) -> list[tuple[int, list[ScopeId]]]:
        """Pack the rows of periods up to ``last`` (final ones long over: only a late event changes them), and
        those unpacked since; returns the periods newly packed with their rows. A packed period's rows take
        a tenth of the memory, so that the rows of the days gone by do not make a worker grow day after day."""
        newly = [(i, list(self.period_rows(i))) for i in range(self.packed_through + 1, last + 1)]
        for i in (*(i for i, _ in newly), *self._unpacked):
            rows = self.rows[i]
            if not isinstance(rows, bytes):
                self.rows[i] = _pack([(scope, scope_id, counts) for (scope, scope_id), counts in rows.items()])
        self.packed_through = max(self.packed_through, last)
        self._unpacked.clear()
        return newly

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

    def add_counts(self, delta: Counts, cell: Cell, i: int) -> None:
        """Add the counts of several dossiers of one cell to period ``i``."""
        self._apply(delta, cell, i)

    def _apply(self, delta: Counts, cell: Cell, i: int) -> None:
        changes = [(k, v) for k, v in enumerate(delta) if v]
        if not changes:
            return
        rows, kind, touched = self.period_rows(i), self.kind, self.touched
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

    def __init__(
        self, calendar: WorkingCalendar, archive: Archive | None = None, pack_after: float = PACK_AFTER
    ) -> None:
        self._calendar = calendar
        self._archive = archive
        self._pack_after = pack_after
        self._summaries: dict[str, DossierSummary] = {}  # counted; with an archive, only the unfinished ones
        self._tables: dict[PeriodKind, _RowTable] = {}
        self._ended: set[str] = set()  # counted, with an end, that a period to come may still carry over
        self._watermark = _NO_WATERMARK
        self._emitted: dict[tuple[Scope, str, PeriodKind, date], tuple[bool, tuple[int, ...]]] = {}
        self._final_through: dict[PeriodKind, int] = {kind: -1 for kind in PERIOD_KINDS}
        self._forgotten_through: dict[PeriodKind, date] = {kind: date.min for kind in PERIOD_KINDS}  # see _emitted
        self._rebuilt = False
        # open dossiers of the provisional periods, classified at the watermark
        self._open: dict[tuple[PeriodKind, int], dict[ScopeId, Tally]] = {}
        self._open_changed: set[RowKey] = set()
        # the counted dossiers with no end yet, classified at the end of the day the last rollover appended
        # (the new periods' carried-over rows) and at the watermark (the provisional periods' open counts)
        self._at_period_end = StatusBook(calendar)
        self._at_watermark = StatusBook(calendar)
        self._ahead: list[tuple[float, str]] = []  # heap of those accepted past the watermark; stale entries too
        # the dossiers with an end that are open at a provisional period's end (their end lies past it), classified
        # at the watermark as they are met
        self._ended_at_watermark = StatusBook(calendar)
        self._held: dict[str, DossierSummary] = {}  # accepted past the watermark + AHEAD: not counted yet
        self._held_order: list[tuple[float, str]] = []  # heap by acceptance; stale when ``_held`` moved on

    @property
    def watermark(self) -> float:
        return self._watermark

    # ---------------------------------------------------------------------------------------- inputs

    def held(self) -> dict[str, int]:
        """What the province holds in memory: the summaries counted (open, or finished within a period that
        may still carry them over), those accepted past the watermark, and the rows already emitted."""
        return {"summaries": len(self._summaries), "held_ahead": len(self._held), "rows_emitted": len(self._emitted)}

    def update(self, dossier_id: str, summary: DossierSummary | None) -> None:
        """Replace a dossier's summary (None: the dossier no longer counts, e.g. never accepted)."""
        if dossier_id in self._held:
            old = None  # held: not counted
            del self._held[dossier_id]
        else:
            old = self._summaries.get(dossier_id)
            if old is None and self._archive is not None:
                old = self._archive.get(dossier_id)  # counted once, forgotten since (finished)
        self._replace(dossier_id, old, summary)

    def restore(self, summary: DossierSummary) -> None:
        """Count a summary the archive already holds (a rebuild from it): it was never counted here.

        Call ``start_at`` with the earliest acceptance first, so that no period has to be added before the
        first one while the archive is half counted.
        """
        self._replace(summary.dossier_id, None, summary)

    def start_at(self, accepted_ts: float) -> None:
        """Make the periods start early enough for a dossier accepted at ``accepted_ts``."""
        self._cover(accepted_ts)

    def _replace(self, dossier_id: str, old: DossierSummary | None, summary: DossierSummary | None) -> None:
        if summary is not None and summary.accepted_ts >= self._watermark + AHEAD:
            self._count(dossier_id, old, None)
            self._held[dossier_id] = summary
            heapq.heappush(self._held_order, (summary.accepted_ts, dossier_id))
            return
        self._count(dossier_id, old, summary)

    def _count(self, dossier_id: str, old: DossierSummary | None, summary: DossierSummary | None) -> None:
        if summary is None and old is None:
            return
        if summary is not None:
            self._cover(summary.accepted_ts)  # before the old summary leaves: new periods count it, then move it
        self._summaries.pop(dossier_id, None)
        self._ended.discard(dossier_id)
        for table in self._tables.values():
            table.recount(old, summary)
        same_open_key = old is not None and summary is not None and _open_key(old) == _open_key(summary)
        if old is not None and not same_open_key:
            self._tally(old, -1)
            self._ended_at_watermark.discard(dossier_id)
        self._book(old, summary, same_open_key)
        if summary is not None and not same_open_key:
            self._tally(summary, 1)
        if summary is not None:
            self._summaries[dossier_id] = summary
            if summary.end_ts is not None:
                self._ended.add(dossier_id)

    def _book(self, old: DossierSummary | None, summary: DossierSummary | None, same_open_key: bool) -> None:
        """Keep the books of the dossiers with no end in step with a dossier's new summary."""
        books = (self._at_period_end, self._at_watermark)
        if same_open_key:  # the same end (or none), cell and status in both books
            if summary is not None and summary.end_ts is None:
                for book in books:
                    book.replace(summary)
            return
        if old is not None and old.end_ts is None:
            for book in books:
                book.remove(old.dossier_id)
        if summary is not None and summary.end_ts is None:
            for book in books:
                book.add(summary)
            if summary.accepted_ts > self._watermark:
                heapq.heappush(self._ahead, (summary.accepted_ts, summary.dossier_id))

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
                self._count(dossier_id, None, s)
        while self._ahead and self._ahead[0][0] <= watermark:
            heapq.heappop(self._ahead)
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
                candidates.update((scope, scope_id, kind, i) for scope, scope_id in table.period_rows(i))
            for i in range(first, last_final + 1):
                self._open.pop((kind, i), None)
        if self._rebuilt:  # rows sent before that the recount leaves empty must be sent once more, as deletions
            index = {(kind, period.start): i for kind, t in self._tables.items() for i, period in enumerate(t.periods)}
            candidates.update((scope, sid, kind, index[(kind, day)]) for scope, sid, kind, day in self._emitted)
        self._rebuilt = False
        changed = []
        watermark = format_instant(self._watermark) if self._watermark != _NO_WATERMARK else None
        for key in sorted(candidates):
            scope, scope_id, kind, i = key
            table = self._tables[kind]
            counts = list(table.period_rows(i).get((scope, scope_id), _ZERO))
            final = i <= self._final_through[kind]
            if not final:  # open dossiers as they stand at the watermark, not at the period's end
                tally = self._open.get((kind, i), {}).get((scope, scope_id), (0, 0, 0))
                counts[OPEN_OVERDUE], counts[OPEN_WITHIN_DUE], counts[OPEN_DUE_SOON] = tally
            period = table.periods[i]
            emitted_key = (scope, scope_id, kind, period.start)
            state = (final, tuple(counts))
            emitted = self._emitted.get(emitted_key)
            # what was emitted of a packed period's rows is forgotten (a rebuild's new tables included): send,
            # even a deletion
            packed = period.start <= self._forgotten_through[kind]
            if emitted == state or (emitted is None and not packed and not counts[TO_PROCESS]):
                continue
            if not packed:
                self._emitted[emitted_key] = state
            row = kpi_row(scope, scope_id, period, counts)
            row["provisional"] = not final
            row["watermark"] = watermark
            changed.append(row)
        self._pack_old_periods()
        return changed

    def _pack_old_periods(self) -> None:
        """Pack the final periods that ended ``pack_after`` before the watermark; forget what was emitted of them."""
        for kind, table in self._tables.items():
            last = self._final_through[kind]
            while last > table.packed_through and table.periods[last].end_ts > self._watermark - self._pack_after:
                last -= 1
            for i, scope_ids in table.pack_through(last):
                start = table.periods[i].start
                for scope, scope_id in scope_ids:
                    self._emitted.pop((scope, scope_id, kind, start), None)
                self._forgotten_through[kind] = max(self._forgotten_through[kind], start)

    # ---------------------------------------------------------------------------------------- periods

    def _cover(self, ts: float, carry: bool = True) -> None:
        """Make every period kind's table reach the period containing ``ts`` (``carry``: with the dossiers still
        open at their start; not in a rebuild, which counts everyone afresh)."""
        day = date_of_day(local_day(ts))
        if not self._tables:
            for kind in PERIOD_KINDS:
                self._tables[kind] = _RowTable(kind, make_period(kind, period_start(kind, day)), self._calendar)
                self._tally_period(kind, 0)
            # and on to the watermark, as ``advance`` would have made them: a watermark known before the first
            # dossier (a rebuild that reads it first) left the periods after the last acceptance uncreated,
            # and their carried-over rows missing, until the next advance (which, after the last tick, never came)
            ts = max(ts, self._watermark)
        elif ts < min(table.periods[0].start_ts for table in self._tables.values()):
            self._rebuild_from(day)
            return
        appended: list[tuple[_RowTable, int]] = []
        for kind, table in self._tables.items():
            while table.periods[-1].end_ts <= ts:
                appended.append((table, table.append_period(make_period(kind, table.periods[-1].end))))
        if appended:
            if carry:
                self._carry_over_into(appended)
            for table, i in appended:
                self._tally_period(table.kind, i)
            if carry:
                self._forget_finished()

    def _carry_over_into(self, appended: list[tuple[_RowTable, int]]) -> None:
        """Count, in newly appended periods, the dossiers still open at their start (every counted dossier was
        accepted before: its acceptance's periods existed when it was counted).

        Work follows what changed, not periods x open dossiers: the dossiers with no end yet are counted per
        cell from a book of their status at the first new period's end (``dossier.status_book``: a dossier is
        classified again only when a status change falls before that end); only those with an end, finished
        since the last rollover, are counted one by one. A clock tick a year ahead appends 365 day periods:
        that is 365 x cells, plus each open dossier's status changes.
        """
        for dossier_id in self._ended:
            s = self._summaries[dossier_id]
            for table, i in appended:
                if s.end_ts >= table.periods[i].start_ts:
                    table.add_to_period(s, i)
        book = self._at_period_end
        by_end = sorted(appended, key=lambda pair: pair[0].periods[pair[1]].end_ts)
        book.move_to(by_end[0][0].periods[by_end[0][1]].end_ts)
        ends = [table.periods[i].end_ts for table, i in by_end]
        for (table, i), tallies in zip(by_end, book.tallies_through(ends), strict=True):
            for cell, (overdue, within_due, due_soon) in tallies.items():
                delta = [0] * len(COUNT_FIELDS)
                delta[CARRIED_OVER] = delta[TO_PROCESS] = overdue + within_due
                delta[OPEN_OVERDUE], delta[OPEN_WITHIN_DUE], delta[OPEN_DUE_SOON] = overdue, within_due, due_soon
                table.add_counts(delta, cell, i)
        # on to the last new day's end, which the next rollover's first end follows (a tick days ahead, a
        # rebuild up to the watermark: left at the first new day's end, the next rollover classified again
        # every dossier whose status changed since)
        book.move_to(min(table.periods[-1].end_ts for table in self._tables.values()))

    def _forget_finished(self) -> None:
        """Drop from ``_ended`` the dossiers that no period to come can count as carried over or open.

        Every period appended later starts at or after the end of its kind's last period, so a dossier
        finished before all of those ends is carried into none. With an archive its summary leaves memory
        too, once it is also finished by the watermark (so that no provisional period tallies it as open).
        """
        horizon = min(table.periods[-1].end_ts for table in self._tables.values())
        if self._archive is not None:  # kept until both hold, however long the watermark lags the events
            horizon = min(horizon, self._watermark)
        ended: set[str] = set()
        for dossier_id in self._ended:
            if self._summaries[dossier_id].end_ts >= horizon:
                ended.add(dossier_id)
            elif self._archive is not None:
                del self._summaries[dossier_id]
                self._ended_at_watermark.discard(dossier_id)
        self._ended = ended

    def _counted(self) -> list[DossierSummary]:
        """Every dossier counted now (from the archive when there is one)."""
        if self._archive is None:
            return list(self._summaries.values())
        return [s for s in self._archive.every() if s.dossier_id not in self._held]

    def _rebuild_from(self, day: date) -> None:
        """A dossier accepted before the first period: start every table earlier and count everyone again."""
        last = max(table.periods[-1].start_ts for table in self._tables.values())
        summaries = self._counted()
        self._tables = {
            kind: _RowTable(kind, make_period(kind, period_start(kind, day)), self._calendar) for kind in PERIOD_KINDS
        }
        self._final_through = {kind: -1 for kind in PERIOD_KINDS}
        self._rebuilt = True
        self._open, self._open_changed = {}, set()
        self._cover(last, carry=False)  # everyone is counted afresh below
        for s in summaries:
            for table in self._tables.values():
                table.add(s)
        for kind, table in self._tables.items():
            for i in range(len(table.periods)):
                self._tally_period(kind, i, summaries)

    def _last_final_index(self, kind: PeriodKind) -> int:
        periods = self._tables[kind].periods
        i = self._final_through[kind]
        while i + 1 < len(periods) and periods[i + 1].end_ts <= self._watermark:
            i += 1
        return i

    # ------------------------------------------------------------ open dossiers at the watermark

    def _status_of(self, dossier_id: str, s: DossierSummary) -> OpenStatus:
        """The open dossier's status at the watermark (at its acceptance while the watermark is before it)."""
        if s.end_ts is None:
            return self._at_watermark.status(dossier_id)
        return self._ended_at_watermark.status_of(s)

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
            self._add_open(kind, i, cell_of(s), STATUS_TALLY[status], sign)

    def _tally_period(self, kind: PeriodKind, i: int, candidates: Iterable[DossierSummary] | None = None) -> None:
        """Start the open tally of a period not yet over from ``candidates``, the dossiers that may be open
        at its end (default: every counted dossier not forgotten, enough for a new period: those with no end
        from the book at the watermark, per cell, less those accepted after the period's end)."""
        end = self._tables[kind].periods[i].end_ts
        if end <= self._watermark:
            return  # final: its rows classify open dossiers at its end, as the batch does
        self._open[(kind, i)] = {}
        if candidates is None:
            for cell, tally in self._at_watermark.tallies.items():
                self._add_open(kind, i, cell, tally, 1)
            self._untally_accepted_after(kind, i, end)
            candidates = (self._summaries[dossier_id] for dossier_id in self._ended)
        open_by_cell = Counter(
            (cell_of(s), self._status_of(s.dossier_id, s)) for s in candidates if _open_at_end(s, end)
        )
        for (cell, status), count in open_by_cell.items():  # a cell's dossiers at once: cells are far fewer
            self._add_open(kind, i, cell, STATUS_TALLY[status], count)

    def _untally_accepted_after(self, kind: PeriodKind, i: int, end: float) -> None:
        """Take out of a new period's open tally the dossiers with no end accepted after its end (a source
        whose clock runs ahead of the watermark, by less than ``AHEAD``)."""
        seen: set[str] = set()
        for accepted_ts, dossier_id in self._ahead:
            s = self._summaries.get(dossier_id)
            if accepted_ts < end or dossier_id in seen or s is None or s.end_ts is not None or (
                    s.accepted_ts != accepted_ts):
                continue  # open at the end, or a stale entry
            seen.add(dossier_id)
            self._add_open(kind, i, cell_of(s), STATUS_TALLY[self._at_watermark.status(dossier_id)], -1)

    def _add_open(self, kind: PeriodKind, i: int, cell: Cell, tally: Sequence[int], sign: int) -> None:
        """Add ``sign`` times a cell's [overdue, within due, due soon] to a provisional period's open tally."""
        if not any(tally):
            return
        overdue, within_due, due_soon = tally
        tallies = self._open[(kind, i)]
        for scope_id in _scope_ids(cell):
            counts = tallies.get(scope_id)
            if counts is None:
                counts = tallies[scope_id] = [0, 0, 0]
            counts[0] += sign * overdue
            counts[1] += sign * within_due
            counts[2] += sign * due_soon
            self._open_changed.add((*scope_id, kind, i))

    def _recheck_statuses(self) -> None:
        """Reclassify the dossiers whose status the new watermark may have changed."""
        for book in (self._at_watermark, self._ended_at_watermark):
            for s, before, after in book.move_to(self._watermark):
                self._tally(s, -1, before)
                self._tally(s, 1, after)
