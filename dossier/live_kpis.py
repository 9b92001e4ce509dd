"""One province's KPI rows, kept up to date as dossier summaries change and event time advances.

The live rows are the batch rows computed incrementally, by the same ``KpiTable`` and ``add_contribution``:
a changed dossier is uncounted with its old summary and counted with its new one. Periods are appended as
event time reaches them, counting the dossiers still open at their start (carried over).

A period whose end the province watermark has passed is *final*: its row is exactly what ``motcua kpi``
prints for the same events. A period not yet over is *provisional*: its open dossiers are classified at the
watermark instead of at the period's end (DOMAIN.md section 7).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
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
    KpiTable,
    Scope,
    cell_of,
    kpi_row,
    scope_id_of,
)
from dossier.lifecycle import DossierSummary
from dossier.periods import PERIOD_KINDS, PeriodKind, make_period, period_start
from dossier.sla import open_status

RowKey = tuple[Scope, str, PeriodKind, int]
"""(scope, scope_id, period kind, period index in that kind's table)."""

_NO_WATERMARK = float("-inf")


def row_key_text(row: dict[str, Any]) -> str:
    """The Kafka key of a KPI row: ``scope/scope_id/period/period_start``."""
    return f"{row['scope']}/{row['scope_id']}/{row['period']}/{row['period_start']}"


class LiveKpis:
    """The KPI rows of every scope and period kind of one province (pure: no I/O, no wall clock)."""

    def __init__(self, calendar: WorkingCalendar) -> None:
        self._calendar = calendar
        self._summaries: dict[str, DossierSummary] = {}
        self._tables: dict[PeriodKind, KpiTable] = {}
        self._unfinished: set[str] = set()  # dossiers that may still be open at the start of a new period
        self._cells_by_scope: dict[Scope, dict[str, set[Cell]]] = {scope: {} for scope in SCOPES}
        self._watermark = _NO_WATERMARK
        self._emitted: dict[tuple[Scope, str, PeriodKind, date], tuple[bool, tuple[int, ...]]] = {}
        self._final_through: dict[PeriodKind, int] = {kind: -1 for kind in PERIOD_KINDS}
        self._rebuilt = False

    @property
    def watermark(self) -> float:
        return self._watermark

    # ---------------------------------------------------------------------------------------- inputs

    def update(self, dossier_id: str, summary: DossierSummary | None) -> None:
        """Replace a dossier's summary (None: the dossier no longer counts, e.g. never accepted)."""
        old = self._summaries.pop(dossier_id, None)
        self._unfinished.discard(dossier_id)
        if old is not None:
            for table in self._tables.values():
                table.add(old, -1)
        if summary is None:
            return
        self._cover(summary.accepted_ts)
        self._summaries[dossier_id] = summary
        for table in self._tables.values():
            table.add(summary)
        self._index_cell(cell_of(summary))
        self._unfinished.add(dossier_id)

    def advance(self, watermark: float) -> None:
        """Move the province watermark (the minimum over the source partitions) forward; never back."""
        if watermark <= self._watermark:
            return
        self._watermark = watermark
        if self._tables:
            self._cover(watermark)

    # --------------------------------------------------------------------------------------- outputs

    def changed_rows(self) -> list[dict[str, Any]]:
        """The rows (kpi-row/1) that changed since the last call, final or provisional.

        A row whose dossiers all moved elsewhere comes back once with ``to_process`` 0: it no longer exists.
        """
        candidates: set[RowKey] = set()
        for kind, table in self._tables.items():
            assert table.touched is not None
            for cell, i in table.touched:
                candidates.update(self._row_keys(cell, kind, i))
            table.touched.clear()
            # rows of provisional periods move with the watermark; rows that became final change their flag
            first_not_final = 0 if self._rebuilt else self._final_through[kind] + 1
            self._final_through[kind] = self._last_final_index(kind)
            for i in range(first_not_final, len(table.periods)):
                candidates.update(self._all_row_keys(kind, i))
        self._rebuilt = False
        provisional_open = self._open_at_watermark()
        changed = []
        for key in sorted(candidates):
            scope, scope_id, kind, i = key
            counts = self._counts(key)
            final = i <= self._final_through[kind]
            if not final:
                self._classify_open_at_watermark(counts, provisional_open.get((kind, i), {}), scope, scope_id)
            period = self._tables[kind].periods[i]
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
                self._tables[kind] = KpiTable([make_period(kind, period_start(kind, day))], self._calendar, True)
            return
        if ts < min(table.periods[0].start_ts for table in self._tables.values()):
            self._rebuild_from(day)
            return
        appended = False
        for kind, table in self._tables.items():
            while table.periods[-1].end_ts <= ts:
                i = table.append_period(make_period(kind, table.periods[-1].end))
                self._carry_over_into(table, i)
                appended = True
        if appended:
            self._forget_finished()

    def _carry_over_into(self, table: KpiTable, i: int) -> None:
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
            kind: KpiTable([make_period(kind, period_start(kind, day))], self._calendar, True) for kind in PERIOD_KINDS
        }
        self._final_through = {kind: -1 for kind in PERIOD_KINDS}
        self._rebuilt = True
        unfinished, self._unfinished = self._unfinished, set()
        self._cover(last)  # with nobody to carry over: everyone is counted afresh below
        self._unfinished = unfinished
        for s in summaries:
            for table in self._tables.values():
                table.add(s)

    def _last_final_index(self, kind: PeriodKind) -> int:
        periods = self._tables[kind].periods
        i = self._final_through[kind]
        while i + 1 < len(periods) and periods[i + 1].end_ts <= self._watermark:
            i += 1
        return i

    # ------------------------------------------------------------------------------------------- rows

    def _index_cell(self, cell: Cell) -> None:
        for scope in SCOPES:
            scope_id = scope_id_of(cell, scope)
            if scope_id is not None:
                self._cells_by_scope[scope].setdefault(scope_id, set()).add(cell)

    def _row_keys(self, cell: Cell, kind: PeriodKind, i: int) -> Iterable[RowKey]:
        for scope in SCOPES:
            scope_id = scope_id_of(cell, scope)
            if scope_id is not None:
                yield (scope, scope_id, kind, i)

    def _all_row_keys(self, kind: PeriodKind, i: int) -> Iterable[RowKey]:
        for scope, ids in self._cells_by_scope.items():
            for scope_id in ids:
                yield (scope, scope_id, kind, i)

    def _counts(self, key: RowKey) -> Counts:
        scope, scope_id, kind, i = key
        total = [0] * len(COUNT_FIELDS)
        cells = self._tables[kind].cells
        for cell in self._cells_by_scope[scope][scope_id]:
            counts = cells.get(cell, {}).get(i)  # a cell may be absent from tables rebuilt since it was seen
            if counts is not None:
                for k, value in enumerate(counts):
                    total[k] += value
        return total

    def _open_at_watermark(self) -> dict[tuple[PeriodKind, int], dict[Cell, list[int]]]:
        """For each provisional period: per cell, how its open dossiers stand at the watermark."""
        provisional = [
            (kind, i, table.periods[i].end_ts)
            for kind, table in self._tables.items()
            for i in range(self._final_through[kind] + 1, len(table.periods))
        ]
        if not provisional:
            return {}
        at = self._watermark
        result: dict[tuple[PeriodKind, int], dict[Cell, list[int]]] = {}
        for dossier_id in self._unfinished:
            s = self._summaries[dossier_id]
            status = None
            for kind, i, end in provisional:
                if s.accepted_ts >= end or (s.end_ts is not None and s.end_ts < end):
                    continue  # not open at this period's end: the table counts it as received or finished
                if status is None:
                    status = open_status(max(at, s.accepted_ts), s.due_ts, s.pauses, s.request_times, self._calendar)
                by_cell = result.setdefault((kind, i), {})
                tally = by_cell.setdefault(cell_of(s), [0, 0, 0])
                tally[0 if status == "overdue" else 1] += 1
                if status == "due_soon":
                    tally[2] += 1
        return result

    def _classify_open_at_watermark(
        self, counts: Counts, by_cell: dict[Cell, list[int]], scope: Scope, scope_id: str
    ) -> None:
        overdue = within = due_soon = 0
        for cell in self._cells_by_scope[scope][scope_id]:
            tally = by_cell.get(cell)
            if tally is not None:
                overdue += tally[0]
                within += tally[1]
                due_soon += tally[2]
        counts[OPEN_OVERDUE], counts[OPEN_WITHIN_DUE], counts[OPEN_DUE_SOON] = overdue, within, due_soon
