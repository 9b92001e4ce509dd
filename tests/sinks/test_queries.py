"""The SQL files of sql/ on real data: simulated events, transitions, KPI rows and alerts landed by the
sink's writer into the local ClickHouse 18.16 and into chDB (a current engine); both must agree, and with
what the domain core says of the same events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import pytest
from clickhouse_driver import Client
from rich.console import Console

from audit.kpi_report import kpi_table
from dashboards import queries
from dossier.calendar import day_number, day_start, default_calendar
from dossier.lifecycle import DossierSummary, in_state_machine_order, summarize
from dossier.merger import HIERARCHIES
from dossier.transitions import status_at
from sinks.top import render, snapshot
from tests.sinks.chdb_executor import ChdbExecutor
from tests.sinks.pipeline import (
    batch_of,
    distinct_valid_events,
    event_log,
    event_records,
    fresh_database,
    kpi_records,
    land,
    land_in_chdb,
    simulated_lines,
    transition_and_alert_records,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

FIRST, END = date(2025, 7, 1), date(2025, 7, 22)
WATERMARK = day_start(day_number(END))
DAY = date(2025, 7, 21)


class Landed:
    def __init__(self, lines: list[bytes], server: Client, chdb: ChdbExecutor) -> None:
        self.lines, self.server, self.chdb = lines, server, chdb
        calendar = default_calendar()
        self.summaries: list[DossierSummary] = [
            s for s in (summarize(in_state_machine_order(e.values()), calendar)
                        for e in event_log(lines).by_dossier.values()) if s is not None
        ]

    def on_server(self, name: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [tuple(_plain(v) for v in row) for row in self.server.execute(queries.query(name), params)]

    def on_chdb(self, name: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [tuple(_plain(v) for v in row) for row in self.chdb.execute(queries.render(name, params))]


def _plain(value: Any) -> Any:
    """One spelling for both engines: instants and dates as text, floats rounded."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 9)
    return value


@contextmanager
def landing(clickhouse_ready: dict[str, Any], database: str, lines: list[bytes], first: date, end: date,
            months_end: date) -> Iterator[Landed]:
    """``lines`` landed in ``database`` of the local ClickHouse and in chDB, with their transitions and alerts
    at the watermark ``end``, day KPI rows of [first, end) (final) and month rows of [first, months_end)."""
    watermark = day_start(day_number(end))
    transitions, alerts = transition_and_alert_records(lines, watermark)
    batch = batch_of({
        "events": event_records(lines),
        "transitions": transitions,
        "alerts": alerts,
        "kpis": kpi_records(lines, "day", first, end, watermark, False)
        + kpi_records(lines, "month", first, months_end, watermark, True),
    })
    admin = Client(**clickhouse_ready)  # type: ignore[arg-type]
    fresh_database(admin, database)
    land({**clickhouse_ready, "database": database}, database, batch)
    server = Client(**{**clickhouse_ready, "database": database})  # type: ignore[arg-type]
    chdb = ChdbExecutor()
    fresh_database(chdb, "motcua")  # type: ignore[arg-type]
    land_in_chdb(chdb, "motcua", batch)
    chdb.execute("USE motcua")
    yield Landed(lines, server, chdb)
    chdb.close()
    server.disconnect()
    admin.execute(f"DROP DATABASE IF EXISTS {database}")
    admin.disconnect()


@pytest.fixture(scope="module")
def landed(clickhouse_ready: dict[str, Any], run_id: str) -> Iterator[Landed]:
    with landing(clickhouse_ready, f"t_queries_{run_id}", simulated_lines(5, ["01", "79"], FIRST, END), FIRST, END,
                 date(2025, 8, 1)) as landed:
        yield landed


PARAMS = {
    "kpis_current": [{"hierarchy": h, "scope": "province", "period": "day", "period_start": DAY} for h in HIERARCHIES]
    + [{"hierarchy": h, "scope": "unit", "period": "month", "period_start": FIRST} for h in HIERARCHIES],
    "overdue_backlog": [{"province": ""}, {"province": "79"}],
    "due_soon": [{"province": ""}],
    "dossier_timeline": [],  # filled from the data below
    "scores_766": [{"hierarchy": h, "scope": "province", "period": "month", "period_start": FIRST} for h in HIERARCHIES]
    + [{"hierarchy": "legacy", "scope": "unit", "period": "day", "period_start": DAY}],
}


def _busiest_dossier(landed: Landed) -> str:
    counts = Counter(s.dossier_id for s in landed.summaries for _ in range(len(s.pauses) + 1))
    return max(counts, key=lambda d: (counts[d], d))


def test_every_query_has_a_test_and_both_engines_agree(landed: Landed) -> None:
    assert set(queries.names()) == set(PARAMS)
    cases = [(name, p) for name, ps in PARAMS.items() for p in ps]
    cases.append(("dossier_timeline", {"dossier_id": _busiest_dossier(landed)}))
    for name, params in cases:
        on_server = landed.on_server(name, params)
        assert on_server, f"{name} {params} returned nothing on this data"
        assert on_server == landed.on_chdb(name, params), name


def test_current_kpis_are_the_rows_the_audit_computes(landed: Landed) -> None:
    expected = kpi_table(event_log(landed.lines), "day", FIRST, END, default_calendar()).rows("province")
    today = {r["scope_id"]: r for r in expected if r["period_start"] == DAY.isoformat()}
    rows = landed.server.execute(queries.query("kpis_current"), {"hierarchy": "legacy", "scope": "province",
                                                                 "period": "day", "period_start": DAY},
                                 with_column_types=True)
    names = [c[0] for c in rows[1]]
    got = {r[0]: dict(zip(names, r, strict=True)) for r in rows[0]}
    assert set(got) == set(today)
    for province, row in got.items():
        assert row["province"] == province and row["provisional"] == 0
        for field in ("to_process", "open_overdue", "on_time_rate", "overdue_rate", "online_payment_rate"):
            assert row[field] == today[province][field], field
    units = landed.server.execute(queries.query("kpis_current"),
                                  {"hierarchy": "legacy", "scope": "unit", "period": "month", "period_start": FIRST})
    province_of = {s.unit: s.province for s in landed.summaries}
    assert {(unit, province) for unit, province, *_ in units} == set(province_of.items())


def test_overdue_and_due_soon_are_the_open_dossiers_the_sla_clock_says(landed: Landed) -> None:
    calendar = default_calendar()
    standing = {s.dossier_id: status_at(s, WATERMARK, calendar) for s in landed.summaries}
    by_id = {s.dossier_id: s for s in landed.summaries}
    overdue = landed.server.execute(queries.query("overdue_backlog"), {"province": ""})
    assert {row[0] for row in overdue} == {d for d, st in standing.items() if st == "overdue"}
    for dossier_id, _province, unit, officer, *_ in overdue:
        assert (unit, officer) == (by_id[dossier_id].unit, by_id[dossier_id].officer or "")
    due_soon = landed.server.execute(queries.query("due_soon"), {"province": ""})
    assert {row[0] for row in due_soon} == {d for d, st in standing.items() if st == "due_soon"}
    assert len(overdue) > 0 and len(due_soon) > 0


def test_a_timeline_lists_each_event_once_and_its_transitions_in_event_time(landed: Landed) -> None:
    dossier_id = _busiest_dossier(landed)
    timeline = landed.server.execute(queries.query("dossier_timeline"), {"dossier_id": dossier_id})
    events = event_log(landed.lines).by_dossier[dossier_id]
    assert sorted(row[7] for row in timeline if row[2] == "event") == sorted(events)
    instants = [(row[0], row[1]) for row in timeline]
    assert instants == sorted(instants)
    assert {row[3] for row in timeline if row[2] == "transition"} >= {"accepted"}


def test_766_scores_follow_the_rates(landed: Landed) -> None:
    rows = landed.server.execute(queries.query("scores_766"),
                                 {"hierarchy": "legacy", "scope": "province", "period": "month", "period_start": FIRST})
    table = kpi_table(event_log(landed.lines), "month", FIRST, date(2025, 8, 1), default_calendar())
    expected = {r["scope_id"]: r for r in table.rows("province")}
    for scope_id, _start, _provisional, progress, _online, payment, digitisation, satisfaction in rows:
        r = expected[scope_id]
        assert progress == pytest.approx(20 * r["on_time_rate"])
        assert payment == (None if r["online_payment_rate"] is None else pytest.approx(10 * r["online_payment_rate"]))
        assert digitisation == pytest.approx(6 * r["e_result_rate"] + 4 * r["digitization_rate"])
        assert satisfaction == pytest.approx(min(6, 6 * r["satisfaction_rate"] / 0.9))


def test_top_shows_todays_provinces_and_the_worst_units(landed: Landed) -> None:
    view = snapshot(landed.server, units=5)
    assert view.day == DAY and [r["scope_id"] for r in view.provinces] == ["01", "79"]
    rates = [r["overdue_rate"] for r in view.worst_units]
    assert len(rates) == 5 and rates == sorted(rates, key=lambda r: -1 if r is None else r, reverse=True)
    assert view.events == distinct_valid_events(landed.lines)
    assert view.overdue > 0 and view.due_soon > 0
    console = Console(record=True, width=160)
    console.print(render(view))
    text = console.export_text()
    assert f"day {DAY}" in text and "Hà Nội" in text and view.worst_units[0]["scope_id"] in text
