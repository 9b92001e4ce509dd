"""The screens' ``hierarchy`` variable on a 2025-Q2 dossier set sent in former province codes (Bình Dương 74,
Bà Rịa - Vũng Tàu 77 and TP. Hồ Chí Minh 79, which became 79; Bắc Ninh 27 and Bắc Giang 24, which became 24),
landed in ClickHouse 18.16 and in chDB: under ``2025`` every panel of province rows shows what
``motcua kpi --hierarchy 2025`` prints, a new province is the sum of its former ones and picking it picks
their units and dossiers; under ``legacy`` the screens show the codes as sent, as before the variable. The
named SQL files (``dashboards/sql/kpis_current.sql``, ``scores_766.sql``) and ``motcua top`` make the same
choice with their ``hierarchy`` parameter."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest

from dashboards import queries
from dashboards.check import Outcome
from dashboards.panels import DEFAULT_HIERARCHY, RATES
from dashboards.provisioning import dashboard_json
from dossier.kpi import COUNT_FIELDS
from dossier.merger import HIERARCHIES, Hierarchy, province_in
from sinks.top import snapshot
from tests.dashboards.kpi import kpi_rows, rollup
from tests.dashboards.test_panels import LOCAL, Engines, assert_every_query_runs_on_both_engines_and_they_agree
from tests.sinks.pipeline import MOTCUA, in_former_provinces, simulated_lines
from tests.sinks.test_queries import _plain as plain_value
from tests.sinks.test_queries import landing

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

FIRST, END, DAY = date(2025, 6, 9), date(2025, 6, 21), date(2025, 6, 20)  # a Friday of 2025-Q2
JUNE = (date(2025, 6, 1), date(2025, 7, 1))
RANGE = (datetime.combine(DAY, time(0), LOCAL), datetime.combine(END, time(0), LOCAL) - timedelta(milliseconds=1))
FORMER = {"79": ["74", "77", "79"], "24": ["24", "27"]}
SENT = sorted(code for codes in FORMER.values() for code in codes)


class Screens(Engines):
    """The dashboards on the Q2 landing, run with a hierarchy and a selection."""

    def outcomes(self, key: str, hierarchy: str, selection: dict[str, list[str]]) -> dict[str, Outcome]:
        on_server, _ = self.run(key, {"hierarchy": [hierarchy], **selection}, RANGE)
        return {o.title: o for o in on_server}

    def panels(self, key: str, hierarchy: str, selection: dict[str, list[str]]) -> dict[str, list[tuple[Any, ...]]]:
        return {title: o.rows for title, o in self.outcomes(key, hierarchy, selection).items()
                if o.what.startswith("panel")}

    def options(self, key: str, hierarchy: str, selection: dict[str, list[str]], variable: str) -> list[str]:
        return [row[0] for row in self.outcomes(key, hierarchy, selection)[_label(key, variable)].rows]


def _label(key: str, variable: str) -> str:
    return next(v["label"] for v in dashboard_json(key)["templating"]["list"] if v["name"] == variable)


@pytest.fixture(scope="module")
def screens(clickhouse_ready: dict[str, Any], run_id: str, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Screens]:
    lines = in_former_provinces(simulated_lines(7, list(FORMER), FIRST, END))
    with landing(clickhouse_ready, f"t_hierarchy_{run_id}", lines, FIRST, END, JUNE[1]) as landed:
        events = tmp_path_factory.mktemp("hierarchy") / "events.jsonl"
        events.write_bytes(b"\n".join(lines) + b"\n")
        busiest = max((s for s in landed.summaries if s.province == "74"),
                      key=lambda s: (len(s.pauses), s.dossier_id)).dossier_id
        yield Screens(landed.server, landed.chdb, events, busiest)


def test_the_landing_is_in_former_codes() -> None:
    assert all(province_in("2025", code) == new for new, codes in FORMER.items() for code in codes)
    assert DEFAULT_HIERARCHY == "2025"


@pytest.mark.parametrize("key", ["province", "drilldown", "ranking", "timeline"])
def test_every_query_runs_on_both_engines_in_both_hierarchies(screens: Screens, key: str) -> None:
    selections = [{"hierarchy": [h], **s} for h in ("legacy", "2025")
                  for s in ({}, {"province": ["79"]}, {"province": ["24", "79"], "unit": ["$__all"]})]
    assert_every_query_runs_on_both_engines_and_they_agree(screens, key, selections)


def test_the_province_drop_down_lists_the_hierarchys_codes_and_a_new_province_its_former_units(
        screens: Screens) -> None:
    assert screens.options("province", "2025", {}, "province") == ["24", "79"]
    assert screens.options("province", "legacy", {}, "province") == SENT
    units = {"2025": screens.options("province", "2025", {"province": ["79"]}, "unit"),
             "legacy": screens.options("province", "legacy", {"province": ["79"]}, "unit")}
    assert {u[-4:] for u in units["2025"]} == {".H74", ".H77", ".H79"}
    assert {u[-4:] for u in units["legacy"]} == {".H79"} and set(units["legacy"]) < set(units["2025"])
    assert screens.options("province", "legacy", {"province": FORMER["79"]}, "unit") == units["2025"]


def _kpi(screens: Screens, period: str, hierarchy: str) -> list[dict[str, Any]]:
    start, end = (DAY, DAY + timedelta(days=1)) if period == "day" else JUNE
    return [r for r in kpi_rows(screens.events, period, start, end, hierarchy=hierarchy)
            if r["period_start"] == start.isoformat()]


def _expected_stats(screens: Screens, hierarchy: str, provinces: set[str]) -> dict[str, float | None]:
    rows = {"hôm nay": _kpi(screens, "day", hierarchy), "tháng này": _kpi(screens, "month", hierarchy)}
    return {f"{rate.title} ({label})": rollup(rows[label], provinces, rate.numerator, rate.denominator)
            for rate in RATES for label in rows}


def _approx(value: float | None) -> Any:
    return None if value is None else pytest.approx(value)


def test_a_merged_provinces_rate_stats_are_motcua_kpi_2025_and_its_former_provinces_together(
        screens: Screens) -> None:
    merged = _expected_stats(screens, "2025", {"79"})
    assert merged == _expected_stats(screens, "legacy", set(FORMER["79"]))  # the CLI: rates over summed counts
    as_sent = _expected_stats(screens, "legacy", {"79"})
    assert sum(merged[t] != as_sent[t] for t in merged) >= 14, "the former provinces change the rates"
    for hierarchy, selection, expected in (("2025", ["79"], merged), ("legacy", ["79"], as_sent),
                                           ("legacy", FORMER["79"], merged)):
        shown = screens.panels("province", hierarchy, {"province": selection})
        for title, value in expected.items():
            assert shown[title][0][0] == _approx(value), (hierarchy, selection, title)


def test_a_merged_provinces_dossiers_are_its_former_provinces_dossiers(screens: Screens) -> None:
    merged = screens.panels("province", "2025", {"province": ["79"]})
    former = screens.panels("province", "legacy", {"province": FORMER["79"]})
    as_sent = screens.panels("province", "legacy", {"province": ["79"]})
    for title in ("Hồ sơ tiếp nhận và hoàn thành theo giờ (hôm nay)", "Hồ sơ tồn theo tuổi (ngày làm việc)",
                  "Sắp đến hạn: hôm nay là hạn cuối gửi thư xin lỗi", "Hồ sơ quá hạn đang xử lý",
                  "Đơn vị có tỷ lệ trễ hạn cao nhất (hôm nay)"):
        assert merged[title] == former[title] != as_sent[title], title
    drilled = screens.panels("drilldown", "2025", {"province": ["79"]})
    assert drilled == screens.panels("drilldown", "legacy", {"province": FORMER["79"]})
    units = {row[0] for row in drilled["Đơn vị theo tháng"]}
    assert {u[-4:] for u in units} == {".H74", ".H77", ".H79"}


def _scores(row: dict[str, Any]) -> tuple[Any, ...]:
    """The ranking's progress, payment and digitisation scores of a KPI row (dashboards/sql/scores_766.sql)."""
    payment = row["online_payment_rate"]
    return (pytest.approx(20 * row["on_time_rate"]), _approx(None if payment is None else 10 * payment),
            pytest.approx(6 * row["e_result_rate"] + 4 * row["digitization_rate"]))


@pytest.mark.parametrize("hierarchy", ["2025", "legacy"])
def test_the_ranking_is_the_hierarchys_provinces_as_motcua_kpi_prints_them(screens: Screens, hierarchy: str) -> None:
    rows = _kpi(screens, "month", hierarchy)
    [ranking] = screens.panels("ranking", hierarchy, {}).values()
    assert sorted(row[0] for row in ranking) == sorted(r["scope_id"] for r in rows) == (
        ["24", "79"] if hierarchy == "2025" else SENT)
    shown = {code: (progress, payment, digitisation) for code, progress, _, payment, digitisation, *_ in ranking}
    assert shown == {r["scope_id"]: _scores(r) for r in rows}


def test_a_merged_provinces_kpi_row_is_the_sum_of_its_former_provinces(screens: Screens) -> None:
    legacy = {r["scope_id"]: r for r in _kpi(screens, "month", "legacy")}
    merged = {r["scope_id"]: r for r in _kpi(screens, "month", "2025")}
    for new, codes in FORMER.items():
        assert [merged[new][f] for f in COUNT_FIELDS] == [sum(legacy[c][f] for c in codes) for f in COUNT_FIELDS]


def test_a_dossiers_timeline_shows_its_province_in_the_hierarchy(screens: Screens) -> None:
    state = {h: screens.panels("timeline", h, {})["Trạng thái, hạn trả và kết luận"] for h in ("2025", "legacy")}
    assert [row[:2] for row in state["2025"]] == [(screens.dossier_id, "79")]
    assert [row[:2] for row in state["legacy"]] == [(screens.dossier_id, "74")]
    assert state["2025"][0][2:] == state["legacy"][0][2:]


# the named SQL files and motcua top ----------------------------------------------------------------------

#: The counts and rates of kpis_current.sql's rows.
CURRENT_COUNTS = ("to_process", "received", "finished", "finished_late", "open_overdue", "open_due_soon")
CURRENT_RATES = [r for r in RATES if r.column in ("on_time_rate", "overdue_rate", "online_rate", "e_result_rate",
                                                  "digitization_rate", "online_payment_rate", "satisfaction_rate")]


def _named(screens: Screens, name: str, hierarchy: str, scope: str = "province") -> dict[str, dict[str, Any]]:
    """The rows of a named SQL file for June, by scope id; both engines must return the same."""
    params = {"hierarchy": hierarchy, "scope": scope, "period": "month", "period_start": JUNE[0]}
    rows, columns = screens.server.execute(queries.query(name), params, with_column_types=True)
    on_chdb = screens.chdb.execute(queries.render(name, params))
    assert [tuple(map(plain_value, r)) for r in rows] == [tuple(map(plain_value, r)) for r in on_chdb], name
    names = [column for column, _type in columns]
    return {row[0]: dict(zip(names, row, strict=True)) for row in rows}


def test_a_merged_provinces_named_sql_row_sums_its_former_provinces_and_recomputes_the_rates(
        screens: Screens) -> None:
    legacy, merged = _named(screens, "kpis_current", "legacy"), _named(screens, "kpis_current", "2025")
    former_rows = _kpi(screens, "month", "legacy")
    averaged = 0
    for new, codes in FORMER.items():
        assert [merged[new][c] for c in CURRENT_COUNTS] == [sum(legacy[o][c] for o in codes) for c in CURRENT_COUNTS]
        for rate in CURRENT_RATES:
            summed = rollup(former_rows, set(codes), rate.numerator, rate.denominator)
            assert merged[new][rate.column] == _approx(summed), (new, rate.column)
            mean = sum(legacy[o][rate.column] or 0 for o in codes) / len(codes)
            averaged += summed is not None and abs(summed - mean) > 1e-9
    assert averaged >= 5, "an average of the former provinces' rates would differ from the recomputed rate"


@pytest.mark.parametrize("hierarchy", HIERARCHIES)
def test_the_named_sql_rows_are_the_hierarchys_provinces_as_motcua_kpi_prints_them(screens: Screens,
                                                                                   hierarchy: str) -> None:
    expected = {r["scope_id"]: r for r in _kpi(screens, "month", hierarchy)}
    current = _named(screens, "kpis_current", hierarchy)
    assert sorted(current) == sorted(expected) == (["24", "79"] if hierarchy == "2025" else SENT)
    for code, row in current.items():
        assert row["province"] == code
        assert [row[c] for c in CURRENT_COUNTS] == [expected[code][c] for c in CURRENT_COUNTS], code
        assert [row[r.column] for r in CURRENT_RATES] == [_approx(expected[code][r.column]) for r in CURRENT_RATES]
    scores = _named(screens, "scores_766", hierarchy)
    assert {code: (r["group2_progress"], r["group4_online_payment"], r["group5_digitisation_items_4_1_4_2"])
            for code, r in scores.items()} == {code: _scores(r) for code, r in expected.items()}


@pytest.mark.parametrize("hierarchy", HIERARCHIES)
def test_a_units_province_in_the_named_sql_is_the_one_of_the_hierarchy(screens: Screens,
                                                                       hierarchy: Hierarchy) -> None:
    units = _named(screens, "kpis_current", hierarchy, scope="unit")
    sent = {unit: unit[-2:] for unit in units}  # .H74: a unit of Bình Dương (tests.sinks.pipeline.in_former_provinces)
    assert set(sent.values()) == set(SENT)
    assert {unit: row["province"] for unit, row in units.items()} == {
        unit: province_in(hierarchy, code) for unit, code in sent.items()}


def test_motcua_top_shows_the_hierarchys_provinces(screens: Screens) -> None:
    shows: list[tuple[Hierarchy, list[str]]] = [("2025", ["24", "79"]), ("legacy", SENT)]
    for hierarchy, codes in shows:
        view = snapshot(screens.server, units=100, hierarchy=hierarchy)
        today = {r["scope_id"]: r for r in _kpi(screens, "day", hierarchy)}
        assert view.day == DAY and [r["scope_id"] for r in view.provinces] == codes == sorted(today)
        assert [r["to_process"] for r in view.provinces] == [today[c]["to_process"] for c in codes]
        assert {r["province"] for r in view.worst_units} == set(codes)
        database = screens.server.connection.database
        shown = subprocess.run([MOTCUA, "top", "--once", "--database", database, "--health-url", "",
                                "--hierarchy", hierarchy], capture_output=True, text=True, check=True,
                               env={**os.environ, "COLUMNS": "200"}).stdout
        assert re.findall(r"^│ │ (\d\d) ", shown, re.MULTILINE) == codes, shown
