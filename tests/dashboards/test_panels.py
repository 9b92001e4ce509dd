"""Every panel's and variable's SQL of the generated dashboards, expanded as the plugin expands it, on real
pipeline data landed by the sink's writer in ClickHouse 18.16 and in chDB (a current engine): no query
fails on either, both engines agree, and the stats equal what `motcua kpi` prints for the same events."""

from __future__ import annotations

import subprocess
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from clickhouse_driver import Client

from dashboards.check import Outcome, check_dashboard
from dashboards.macros import interval_ms
from dashboards.panels import RATES
from dashboards.provisioning import dashboard_json
from dashboards.screens import BUILDERS, TITLES
from tests.dashboards.kpi import kpi_rows, rollup
from tests.sinks.chdb_executor import ChdbExecutor
from tests.sinks.pipeline import MOTCUA
from tests.sinks.test_queries import DAY, FIRST, Landed
from tests.sinks.test_queries import _plain as plain_value

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
RANGE = (datetime.combine(DAY, time(0), LOCAL), datetime.combine(DAY + timedelta(days=1), time(0), LOCAL)
         - timedelta(milliseconds=1))
SELECTIONS: list[dict[str, list[str]]] = [{}, {"province": ["79"]}, {"province": ["01", "79"], "unit": ["$__all"]}]


class Engines:
    def __init__(self, server: Client, chdb: ChdbExecutor, events: Path, dossier_id: str) -> None:
        self.server, self.chdb, self.events, self.dossier_id = server, chdb, events, dossier_id

    def run(self, key: str, selection: dict[str, list[str]], time_range: tuple[datetime, datetime] = RANGE
            ) -> tuple[list[Outcome], list[Outcome]]:
        board = dashboard_json(key)
        selection = {"dossier_id": [self.dossier_id], **selection}
        return (check_dashboard(self.server, board, *time_range, selection),
                check_dashboard(self.chdb, board, *time_range, selection))


@pytest.fixture(scope="module")
def engines(landed: Landed, tmp_path_factory: pytest.TempPathFactory) -> Engines:
    """The sink tests' landing (simulated events, transitions, alerts and KPI rows in 18.16 and chDB)."""
    events = tmp_path_factory.mktemp("dashboards") / "events.jsonl"
    events.write_bytes(b"\n".join(landed.lines) + b"\n")
    busiest = max(landed.summaries, key=lambda s: (len(s.pauses), s.dossier_id)).dossier_id
    return Engines(landed.server, landed.chdb, events, busiest)


def _plain(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [tuple(tuple(map(plain_value, v)) if isinstance(v, list | tuple) else plain_value(v) for v in r)
            for r in rows]


def assert_every_query_runs_on_both_engines_and_they_agree(engines: Engines, key: str,
                                                          selections: list[dict[str, list[str]]]) -> None:
    for selection in selections:
        on_server, on_chdb = engines.run(key, selection)
        assert on_server, key
        for s, c in zip(on_server, on_chdb, strict=True):
            assert not s.error, f"18.16: {key} {s.what} {s.title}: {s.error}\n{s.sql}"
            assert not c.error, f"chDB: {key} {c.what} {c.title}: {c.error}\n{c.sql}"
            if key != "health":  # _inserted_at differs between the two landings
                assert _plain(s.rows) == _plain(c.rows), f"{key} {s.what} {s.title} {selection}"


@pytest.mark.parametrize("key", list(BUILDERS))
def test_every_query_runs_on_both_engines_and_they_agree(engines: Engines, key: str) -> None:
    assert_every_query_runs_on_both_engines_and_they_agree(engines, key, SELECTIONS)


def _kpi_rows(engines: Engines, period: str, start: date, end: date) -> list[dict[str, Any]]:
    return kpi_rows(engines.events, period, start, end)


def test_the_rate_stats_are_what_motcua_kpi_prints(engines: Engines) -> None:
    day_rows = [r for r in _kpi_rows(engines, "day", DAY, DAY + timedelta(days=1)) if r["period_start"] == str(DAY)]
    month_rows = _kpi_rows(engines, "month", FIRST, date(2025, 8, 1))
    assert {r["scope_id"] for r in day_rows} == {"01", "79"}
    for selection, provinces in (({}, None), ({"province": ["79"]}, {"79"})):
        stats = {o.title: o.rows for o in engines.run("province", selection)[0] if o.what.startswith("panel")}
        checked = 0
        for rate in RATES:
            for label, rows in (("hôm nay", day_rows), ("tháng này", month_rows)):
                expected = rollup(rows, provinces, rate.numerator, rate.denominator)
                got = stats[f"{rate.title} ({label})"][0][0]
                assert got == (None if expected is None else pytest.approx(expected)), (rate.column, label, selection)
                checked += expected is not None
        assert checked >= 14
        if provinces == {"79"}:  # a rolled-up rate of one province is the row's own
            row = next(r for r in day_rows if r["scope_id"] == "79")
            assert stats[f"{RATES[0].title} (hôm nay)"][0][0] == pytest.approx(row["on_time_rate"])


def test_the_hourly_counts_add_up_to_the_days_received(engines: Engines) -> None:
    day_rows = [r for r in _kpi_rows(engines, "day", DAY, DAY + timedelta(days=1)) if r["period_start"] == str(DAY)]
    outcomes = engines.run("province", {})[0]
    hourly = next(o for o in outcomes if o.title.startswith("Hồ sơ tiếp nhận và hoàn thành"))
    assert sum(r[1] for r in hourly.rows) == sum(r["received"] for r in day_rows)
    assert sum(r[2] for r in hourly.rows) == sum(r["finished"] for r in day_rows)


def test_the_titles_are_vietnamese() -> None:
    assert all(any(ch in title for ch in "ạảãáàăâđêếệôơưữ") for title in TITLES.values())


def test_the_check_command_passes_on_pipeline_data_and_fails_on_any_error(engines: Engines, ch: Client,
                                                                         unique_name: str) -> None:
    database = engines.server.connection.database
    args = [MOTCUA, "dashboards", "check", "--from", str(DAY), "--to", str(DAY + timedelta(days=1))]
    ok = subprocess.run([*args, "--database", database], capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Tỷ lệ đúng hạn (hôm nay)" in ok.stdout and "every query ran" in ok.stdout
    ch.execute(f"CREATE DATABASE {unique_name}")  # no tables: every query fails
    try:
        failed = subprocess.run([*args, "--database", unique_name], capture_output=True, text=True, check=False)
    finally:
        ch.execute(f"DROP DATABASE {unique_name}")
    assert failed.returncode == 1 and "ERROR" in failed.stdout and "failing queries" in failed.stdout


def test_the_health_screen_counts_what_the_sink_wrote_batch_by_batch(engines: Engines) -> None:
    """The landing went through the sink's writer just now, which logged its batch in ``sink_batches``."""
    now = datetime.now(LOCAL)
    outcomes = check_dashboard(engines.server, dashboard_json("health"), now - timedelta(hours=1), now)
    by_title = {o.title: o for o in outcomes}
    events = by_title["Sự kiện vào mỗi giây (sink đã ghi)"]
    interval = interval_ms(now - timedelta(hours=1), now, 300) // 1000  # the panel's max data points
    logged = engines.server.execute("SELECT sum(records) FROM sink_batches WHERE topic = 'dossier.events'")[0][0]
    assert logged == len(engines.events.read_bytes().splitlines()) > 0
    assert round(sum(r[1] for r in events.rows) * interval) == logged
    writes = by_title["Lô ghi của sink (lượt phân vùng và số dòng)"]
    assert sum(r[1] for r in writes.rows) == engines.server.execute("SELECT count() FROM sink_batches")[0][0] >= 4
