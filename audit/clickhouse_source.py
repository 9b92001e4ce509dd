"""KPI rows as stored in ClickHouse, printed exactly as ``motcua kpi --events`` prints them from a file.

The stored counts are read from ``kpis_latest`` (one row per key: the greatest watermark), or from
``kpis_latest_2025`` for the 2025 hierarchy (province rows summed into the 34 provinces), and turned into
rows by the same ``dossier.kpi.kpi_row`` the file path uses, so rates are recomputed from the counts and
the two outputs can be compared with ``diff``. Stored rate columns are never read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from itertools import groupby
from operator import itemgetter
from typing import Any, Protocol

from dossier.contract import ParsedEvent, decode_record
from dossier.kpi import COUNT_FIELDS, TO_PROCESS, Scope, kpi_row
from dossier.merger import Hierarchy
from dossier.periods import PeriodKind, make_period, periods_overlapping

VIEWS: dict[Hierarchy, str] = {"legacy": "kpis_latest", "2025": "kpis_latest_2025"}


class Reader(Protocol):
    def execute(self, query: str, params: dict[str, Any]) -> list[tuple[Any, ...]]: ...


StoredRow = tuple[str, date, list[int], bool]
"""(scope_id, period_start, counts, provisional) of a stored row."""


def stored_rows(
    client: Reader,
    database: str,
    period: PeriodKind,
    scope: Scope,
    first: date,
    last: date,
    hierarchy: Hierarchy = "legacy",
) -> list[StoredRow]:
    """The stored rows (``to_process`` > 0) of every period overlapping [first, last), by scope id and start."""
    starts = [p.start for p in periods_overlapping(period, first, last)] if first < last else []
    if not starts:
        return []
    stored = client.execute(
        f"SELECT scope_id, period_start, provisional, {', '.join(COUNT_FIELDS)} FROM {database}.{VIEWS[hierarchy]} "
        "WHERE scope = %(scope)s AND period = %(period)s AND period_start >= %(first)s AND period_start <= %(last)s",
        {"scope": scope, "period": period, "first": starts[0], "last": starts[-1]},
    )
    wanted = set(starts)
    return [
        (scope_id, start, list(counts), bool(provisional))
        for scope_id, start, provisional, *counts in sorted(stored, key=lambda r: (r[0], r[1]))
        if start in wanted and counts[TO_PROCESS] > 0
    ]


def stored_kpi_rows(
    client: Reader,
    database: str,
    period: PeriodKind,
    scope: Scope,
    first: date,
    last: date,
    hierarchy: Hierarchy = "legacy",
) -> tuple[list[dict[str, Any]], int]:
    """The rows of every period overlapping [first, last), sorted by scope id then period start, and how
    many of them are provisional (their period not yet closed by the watermark)."""
    rows = stored_rows(client, database, period, scope, first, last, hierarchy)
    printed = [kpi_row(scope, scope_id, make_period(period, start), counts) for scope_id, start, counts, _ in rows]
    return printed, sum(provisional for *_, provisional in rows)


SCOPE_COLUMNS: dict[Scope, str] = {"province": "province", "unit": "unit", "procedure": "procedure_code",
                                   "field": "procedure_field"}


def archived_dossiers(
    client: Reader, database: str, scope: Scope, codes: Sequence[str], before: date
) -> Iterator[list[ParsedEvent]]:
    """The archived events (``events``, first received wins) of every dossier accepted before the local day
    ``before`` with one of ``codes`` in the ``scope`` column, in arrival order, dossier by dossier."""
    rows = client.execute(
        f"SELECT dossier_id, argMin(payload, _offset), min(_offset) AS arrival FROM {database}.events "
        f"WHERE dossier_id IN (SELECT dossier_id FROM {database}.events WHERE type = 'accepted' "
        f"AND {SCOPE_COLUMNS[scope]} IN %(codes)s AND occurred_at < %(before)s) "
        "GROUP BY dossier_id, event_id ORDER BY dossier_id, arrival",
        {"codes": tuple(codes), "before": datetime(before.year, before.month, before.day)},
    )
    for _, group in groupby(rows, key=itemgetter(0)):
        events = []
        for _, payload, _ in group:
            record = decode_record(payload)  # the archive holds valid events only
            if isinstance(record, ParsedEvent):
                events.append(record)
        yield events


def read_stored_kpi_rows(
    period: PeriodKind, scope: Scope, first: date, last: date, hierarchy: Hierarchy = "legacy"
) -> tuple[list[dict[str, Any]], int, str]:
    """``stored_kpi_rows`` from the ClickHouse of ``wire.settings`` (MOTCUA_CLICKHOUSE_* variables), and
    where that was. Raises clickhouse-driver's errors (or ``OSError``) when it cannot be read."""
    from wire.runtime import clickhouse_client
    from wire.settings import Settings

    settings = Settings().clickhouse_settings()
    client = clickhouse_client(settings, connect_timeout=5)
    try:
        rows, provisional = stored_kpi_rows(client, settings["database"], period, scope, first, last, hierarchy)
    finally:
        client.disconnect()
    return rows, provisional, f"clickhouse://{settings['host']}:{settings['port']}/{settings['database']}"
