"""KPI rows from an event file: read, deduplicate, order, summarise each dossier, count, roll up."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from audit.eventfile import EventLog, InvalidLineHandler, ReadStats, no_cyclic_gc, read_event_file
from dossier.calendar import WorkingCalendar
from dossier.kpi import KpiTable, Scope
from dossier.lifecycle import in_state_machine_order, summarize
from dossier.periods import PeriodKind, periods_overlapping


def kpi_table(log: EventLog, period: PeriodKind, first: date, last: date, calendar: WorkingCalendar) -> KpiTable:
    """Count every accepted dossier of the log in the periods overlapping the local days [first, last)."""
    table = KpiTable(periods_overlapping(period, first, last), calendar)
    for events in log.by_dossier.values():
        summary = summarize(in_state_machine_order(events.values()), calendar)
        if summary is not None:
            table.add(summary)
    return table


def kpi_rows(
    path: Path,
    period: PeriodKind,
    scope: Scope,
    first: date,
    last: date,
    calendar: WorkingCalendar,
    on_invalid: InvalidLineHandler,
) -> tuple[list[dict[str, Any]], ReadStats]:
    """The KPI rows of one scope from an event file, and what reading it saw."""
    with no_cyclic_gc():
        log = read_event_file(path, on_invalid)
        if first >= last:
            return [], log.stats
        return kpi_table(log, period, first, last, calendar).rows(scope), log.stats


def write_rows(rows: list[dict[str, Any]], out: BinaryIO) -> None:
    """KPI rows as JSON lines (UTF-8, rates as JSON numbers or null)."""
    out.write(b"".join(orjson.dumps(row) + b"\n" for row in rows))
