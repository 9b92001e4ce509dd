"""The KPI views compute every rate as dossier.kpi does, and re-aggregate provinces into the 34 of 2025.

On both engines (ClickHouse 18.16 and chDB): rows with counts chosen to hit every zero denominator are
landed through the sink's writer; ``kpis_latest`` must give all nine rates of ``dossier.kpi.rates``, and
``kpis_latest_2025`` must give each merged province the sum of its former provinces' counts, rates
recomputed from the sums.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import orjson
import pytest
from clickhouse_driver import Client

from audit.clickhouse_source import stored_kpi_rows
from dossier.calendar import day_number, day_start, format_instant
from dossier.kpi import COUNT_FIELDS, RATE_FIELDS, RATES, kpi_row
from dossier.merger import former_provinces, province_in
from dossier.periods import make_period
from sinks.migrations import m0003_kpi_rows
from sinks.rates_sql import rate_sql
from tests.sinks.chdb_executor import ChdbExecutor
from tests.sinks.pipeline import batch_of, fresh_database, land, land_in_chdb

MAY = make_period("month", date(2025, 5, 1))
PROVINCES = ["01", "24", "27", "25", "26", "17", "79", "74", "77", "99"]  # 99: no such province, kept as it is


def _counts(rng: random.Random, zero: str | None) -> list[int]:
    counts = [rng.randrange(0, 40) for _ in COUNT_FIELDS]
    counts[COUNT_FIELDS.index("to_process")] = counts[0] + counts[1] + 1
    counts[COUNT_FIELDS.index("finished")] = max(counts[COUNT_FIELDS.index("finished")], 40)
    if zero is not None:
        counts[COUNT_FIELDS.index(zero)] = 0
    return counts


def _rows() -> list[dict[str, Any]]:
    """Province rows (some denominators zero) and unit rows, as the streams emit them (final)."""
    rng = random.Random(15)
    denominators = [None, *sorted({r.denominator for r in RATES} - {"to_process"})]
    rows = [kpi_row("province", p, MAY, _counts(rng, denominators[i % len(denominators)]))
            for i, p in enumerate(PROVINCES)]
    rows += [kpi_row("unit", f"000.00.01.H{p}", MAY, _counts(rng, None)) for p in ("24", "27")]
    watermark = format_instant(day_start(day_number(date(2025, 6, 2))))
    return [{**row, "provisional": False, "watermark": watermark} for row in rows]


def _records(rows: list[dict[str, Any]]) -> list[tuple[bytes, bytes]]:
    return [(f"{r['scope']}/{r['scope_id']}".encode(), orjson.dumps({"schema": "kpi-row/1", **r})) for r in rows]


def test_the_stored_rows_view_computes_the_cores_rates() -> None:
    """m0003 is frozen text: it must say what dossier.kpi.RATES says, rate for rate."""
    view = re.sub(r"\s+", " ", m0003_kpi_rows.STATEMENTS[1])
    for rate in RATES:
        assert f"{rate_sql(rate)} AS {rate.name}" in view, rate.name


def _check(reader: Any, database: str) -> None:
    rows = _rows()
    by_key = {(r["scope"], r["scope_id"]): r for r in rows}
    legacy, _ = stored_kpi_rows(reader, database, "month", "province", MAY.start, MAY.end)
    assert legacy == sorted((kpi_row("province", p, MAY, [by_key["province", p][f] for f in COUNT_FIELDS])
                             for p in PROVINCES), key=lambda r: r["scope_id"])
    zero_rates = {f for r in legacy for f in RATE_FIELDS if r[f] is None}
    assert len(zero_rates) == len(RATE_FIELDS) - 2, "every rate but the two over to_process met a zero denominator"
    merged, _ = stored_kpi_rows(reader, database, "month", "province", MAY.start, MAY.end, "2025")
    expected: dict[str, list[int]] = {}
    for p in PROVINCES:
        total = expected.setdefault(province_in("2025", p), [0] * len(COUNT_FIELDS))
        for i, field in enumerate(COUNT_FIELDS):
            total[i] += by_key["province", p][field]
    assert merged == [kpi_row("province", p, MAY, expected[p]) for p in sorted(expected)]
    assert {r["scope_id"] for r in merged} == {"01", "24", "25", "79", "99"}
    units, _ = stored_kpi_rows(reader, database, "month", "unit", MAY.start, MAY.end, "2025")
    assert units == stored_kpi_rows(reader, database, "month", "unit", MAY.start, MAY.end)[0]
    mapping = reader.execute(f"SELECT old_code, new_code FROM {database}.province_merger_2025", {})
    assert sorted(mapping) == sorted((p.code, p.new_code) for p in former_provinces())


class _Chdb:
    """chDB behind the ``execute(query, params)`` of clickhouse-driver (parameters inlined)."""

    def __init__(self, executor: ChdbExecutor) -> None:
        self.executor = executor

    def execute(self, query: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        for name, value in params.items():
            query = query.replace(f"%({name})s", f"'{value}'")
        return [tuple(date.fromisoformat(v) if isinstance(v, str) and re.fullmatch(r"\d{4}-\d\d-\d\d", v) else v
                      for v in row) for row in self.executor.execute(query)]


@pytest.fixture
def chdb() -> Iterator[ChdbExecutor]:
    executor = ChdbExecutor()
    yield executor
    executor.close()


def test_the_views_on_a_current_clickhouse(chdb: ChdbExecutor) -> None:
    fresh_database(chdb, "motcua")  # type: ignore[arg-type]
    land_in_chdb(chdb, "motcua", batch_of({"kpis": _records(_rows())}))
    _check(_Chdb(chdb), "motcua")


@pytest.mark.integration
def test_the_views_on_the_local_clickhouse_18_16(
    clickhouse_ready: dict[str, Any], ch: Client, unique_name: str
) -> None:
    fresh_database(ch, unique_name)
    try:
        land({**clickhouse_ready, "database": unique_name}, unique_name, batch_of({"kpis": _records(_rows())}))
        _check(ch, unique_name)
    finally:
        ch.execute(f"DROP DATABASE IF EXISTS {unique_name}")
