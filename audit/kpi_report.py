"""KPI rows from events: each dossier summarised once its events are together, counted, rolled up per scope."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from audit.dossiers import InvalidHandler, ReadStats
from audit.eventfile import EventLog, no_cyclic_gc, read_dossiers
from dossier.calendar import WorkingCalendar
from dossier.contract import ParsedEvent
from dossier.kpi import KpiTable, Scope
from dossier.lifecycle import in_state_machine_order, summarize
from dossier.merger import Hierarchy
from dossier.periods import PeriodKind, periods_overlapping


def count_dossiers(table: KpiTable, dossiers: Iterable[Sequence[ParsedEvent]], calendar: WorkingCalendar) -> None:
    """Summarise each dossier from its deduplicated events (arrival order) and count it in ``table``."""
    add = table.add
    for events in dossiers:
        summary = summarize(in_state_machine_order(events), calendar)
        if summary is not None:
            add(summary)


def kpi_table(log: EventLog, period: PeriodKind, first: date, last: date, calendar: WorkingCalendar) -> KpiTable:
    """Count every accepted dossier of an in-memory log in the periods overlapping the local days [first, last)."""
    table = KpiTable(periods_overlapping(period, first, last), calendar)
    count_dossiers(table, (list(events.values()) for events in log.by_dossier.values()), calendar)
    return table


def file_kpi_table(
    path: Path, period: PeriodKind, first: date, last: date, calendar: WorkingCalendar, on_invalid: InvalidHandler
) -> tuple[KpiTable, ReadStats]:
    """The KPI table of an event file, read in bounded memory, and what reading it saw.

    Every line is read (and every invalid one reported) even when [first, last) is empty.
    """
    table = KpiTable(periods_overlapping(period, first, last) if first < last else [], calendar)
    with no_cyclic_gc(), read_dossiers(path, on_invalid) as dossiers:
        count_dossiers(table, dossiers.dossiers(), calendar)
        return table, dossiers.stats


def kpi_rows(
    path: Path,
    period: PeriodKind,
    scope: Scope,
    first: date,
    last: date,
    calendar: WorkingCalendar,
    on_invalid: InvalidHandler,
    hierarchy: Hierarchy = "legacy",
) -> tuple[list[dict[str, Any]], ReadStats]:
    """The KPI rows of one scope from an event file, and what reading it saw."""
    table, stats = file_kpi_table(path, period, first, last, calendar, on_invalid)
    return table.rows(scope, hierarchy), stats


def write_rows(rows: list[dict[str, Any]], out: BinaryIO) -> None:
    """KPI rows as JSON lines (UTF-8, rates as JSON numbers or null)."""
    out.write(b"".join(orjson.dumps(row) + b"\n" for row in rows))
