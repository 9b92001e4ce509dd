"""KPI rows as stored in ClickHouse, printed exactly as ``motcua kpi --events`` prints them from a file.

The stored counts are read from ``kpis_latest`` (one row per key: the greatest watermark), or from
``kpis_latest_2025`` for the 2025 hierarchy (province rows summed into the 34 provinces), and turned into
rows by the same ``dossier.kpi.kpi_row`` the file path uses, so rates are recomputed from the counts and
the two outputs can be compared with ``diff``. Stored rate columns are never read.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

from dossier.kpi import COUNT_FIELDS, TO_PROCESS, Scope, kpi_row
from dossier.merger import Hierarchy
from dossier.periods import PeriodKind, periods_overlapping

VIEWS: dict[Hierarchy, str] = {"legacy": "kpis_latest", "2025": "kpis_latest_2025"}


class Reader(Protocol):
    def execute(self, query: str, params: dict[str, Any]) -> list[tuple[Any, ...]]: ...


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
    periods = {p.start: p for p in periods_overlapping(period, first, last)} if first < last else {}
    if not periods:
        return [], 0
    stored = client.execute(
        f"SELECT scope_id, period_start, provisional, {', '.join(COUNT_FIELDS)} FROM {database}.{VIEWS[hierarchy]} "
        "WHERE scope = %(scope)s AND period = %(period)s AND period_start >= %(first)s AND period_start <= %(last)s",
        {"scope": scope, "period": period, "first": min(periods), "last": max(periods)},
    )
    rows = []
    provisional = 0
    for scope_id, start, is_provisional, *counts in sorted(stored, key=lambda r: (r[0], r[1])):
        if start in periods and counts[TO_PROCESS] > 0:
            rows.append(kpi_row(scope, scope_id, periods[start], counts))
            provisional += bool(is_provisional)
    return rows, provisional


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
