"""The five screens, built with grafana-foundation-sdk (its ``next`` build, for Grafana 12+/13).

Every time is shown in Asia/Ho_Chi_Minh; "today" and "this month" are the local day (and its month) the
dashboard's time range ends on, so the time picker also shows any past day of a replayed history.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from grafana_foundation_sdk.builders import bargauge, common, stat, table, timeseries
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import dashboard as model

from dashboards import queries
from dashboards.alerting import notifications_panel
from dashboards.clickhouse import DATASOURCE, SHARED
from dashboards.panels import (
    COLUMN_LABELS,
    DAY,
    FIRST_DAY,
    MONTH,
    OPEN_DOSSIERS,
    QUARTER,
    RATES,
    TIMEZONE,
    Grid,
    Rate,
    current_dossiers,
    dashboard_link,
    in_selected_provinces,
    latest_kpis,
    latest_kpis_of_periods,
    province_code_selected,
    scope_variables,
    shared_target,
    sql_target,
    the_dossier,
    transitions_on,
    where_in,
    with_shown_province,
    working_days_before,
)

UIDS = {
    "province": "motcua-province",
    "drilldown": "motcua-drilldown",
    "ranking": "motcua-ranking",
    "timeline": "motcua-timeline",
    "health": "motcua-health",
}
TITLES = {
    "province": "Điều hành tỉnh: tiếp nhận và giải quyết hồ sơ",
    "drilldown": "Chi tiết đơn vị và thủ tục",
    "ranking": "Xếp hạng toàn quốc theo Bộ chỉ số 766",
    "timeline": "Dòng thời gian hồ sơ",
    "health": "Sức khỏe hệ thống dữ liệu",
}
PERCENT = "percentunit"
#: A dashboard about the pipeline itself: `motcua screen --now pipeline` keeps the wall clock's "now" for it.
WALL_CLOCK_TAG = "wall-clock"
TIMELINE_LINK = f"/d/{UIDS['timeline']}?var-dossier_id=${{__value.raw}}&${{__url_time_range}}"
PROVINCES = province_code_selected("province")
#: The backlog's age buckets: label, most working days since acceptance (the last: all the rest).
AGES: tuple[tuple[str, int], ...] = (("0-1 ngày", 1), ("2-5 ngày", 5), ("6-10 ngày", 10), ("11-20 ngày", 20),
                                     ("trên 20 ngày", 0))
#: The wall screen's rate stats: (period, its start, label); one query gives them all (``rates_sql``).
STAT_PERIODS = (("day", DAY, "hôm nay"), ("month", MONTH, "tháng này"))
DOSSIER_FILTER = " AND ".join([PROVINCES, where_in("unit", "unit"),
                               where_in("procedure_code", "procedure"), where_in("procedure_field", "field")])


def _base(key: str, refresh: str, time_from: str = "now/d", time_to: str = "now/d") -> dash.Dashboard:
    board = (dash.Dashboard(TITLES[key]).uid(UIDS[key]).tags(["motcua"]).timezone(TIMEZONE).refresh(refresh)
             .time(time_from, time_to).readonly().week_start("monday")
             .tooltip(model.DashboardCursorSync.CROSSHAIR))
    for other, uid in UIDS.items():
        if other != key:
            board.link(dashboard_link(TITLES[other], uid))
    return board


def _finish(board: dash.Dashboard, grid: Grid) -> dash.Dashboard:
    for panel in grid.panels:
        board.with_panel(panel)
    return board


Labelled = TypeVar("Labelled", table.Panel, timeseries.Panel)


def _labelled(panel: Labelled, sql: str) -> Labelled:
    """Vietnamese headers (legends) and rates as percentages, for the known columns the SQL names."""
    words = set(re.findall(r"\w+", sql))
    for column, label in COLUMN_LABELS.items():
        if column in words:
            properties = [model.DynamicConfigValue(id_val="displayName", value=label)]
            if column.endswith("_rate"):
                properties.append(model.DynamicConfigValue(id_val="unit", value=PERCENT))
            panel.override_by_name(column, properties)
    return panel


def _table(title: str, sql: str) -> table.Panel:
    return _labelled(table.Panel().title(title).datasource(DATASOURCE).with_target(sql_target(sql)), sql)


def _linked_to_timeline(panel: table.Panel) -> table.Panel:
    link = {"title": "Dòng thời gian hồ sơ", "url": TIMELINE_LINK}
    return panel.override_by_name("dossier_id", [model.DynamicConfigValue(id_val="links", value=[link])])


def rate_column(rate: Rate, period: str) -> str:
    return f"{rate.column}_{period}"


def rates_sql() -> str:
    """Every province-scope rate of today and of this month, rolled up over the selected provinces: one
    column each (``rate_column``), one query for the wall screen's 18 stats."""
    rows = latest_kpis_of_periods("province", {period: start for period, start, _ in STAT_PERIODS},
                                  province_code_selected("scope_id"))
    rates = ", ".join(f"{rate.sql(f'period = {period!r}')} AS {rate_column(rate, period)}"
                      for period, _, _ in STAT_PERIODS for rate in RATES)
    return f"SELECT {rates} FROM ({rows})"


def _rate_stat(rate: Rate, period: str, label: str, source: int | None) -> stat.Panel:
    """A rate's stat: the query of ``rates_sql`` (``source`` None) or a share of panel ``source``'s result."""
    panel = stat.Panel().title(f"{rate.title} ({label})")
    if source is None:
        panel.datasource(DATASOURCE).with_target(sql_target(rates_sql()))
    else:
        panel.datasource(SHARED).with_target(shared_target(source))
    return (panel.reduce_options(common.ReduceDataOptions().values(False).calcs(["lastNotNull"])
                                 .fields(f"/^{rate_column(rate, period)}$/"))
            .unit(PERCENT).decimals(1).min(0).max(1).thresholds(rate.thresholds()).no_value("—"))


def _rates_by_row(scope: str, period: str, start_condition: str, condition: str) -> str:
    rows = latest_kpis(scope, period, start_condition, condition)
    rates = ", ".join(f"{r.sql()} AS {r.column}" for r in RATES)
    return (f"SELECT scope_id, period_start, sum(to_process) AS can_xu_ly, {rates} FROM ({rows}) "
            "GROUP BY scope_id, period_start ORDER BY period_start, scope_id")


def province_operations() -> dash.Dashboard:
    """The wall screen of a provincial operations centre (refresh 10 s)."""
    grid = Grid()
    widths = [3, 3, 3, 3, 3, 3, 2, 2, 2]
    source = grid.next_id  # the first stat runs the query; the others share its result
    for period, _, label in STAT_PERIODS:
        for rate, w in zip(RATES, widths, strict=True):
            grid.place(_rate_stat(rate, period, label, None if grid.next_id == source else source), w, 4)
        grid.newline()
    # each transition once (its id, dossier:kind:instant, names its kind and hour): as transitions_unique, but
    # counting distinct ids instead of grouping by them (a third less CPU on ClickHouse 18.16)
    per_hour = ("SELECT toStartOfHour(at) AS time, uniqExactIf(transition_id, kind = 'accepted') AS tiep_nhan, "
                "uniqExactIf(transition_id, kind = 'finished') AS hoan_thanh FROM transitions "
                f"PREWHERE $__timeFilter(at) WHERE kind IN ('accepted', 'finished') AND {DOSSIER_FILTER} "
                "GROUP BY time ORDER BY time")
    grid.place(timeseries.Panel().title("Hồ sơ tiếp nhận và hoàn thành theo giờ (hôm nay)").datasource(DATASOURCE)
               .with_target(sql_target(per_hour, time_series=True)).unit("short").max_data_points(500)
               .override_by_name("tiep_nhan", [model.DynamicConfigValue(id_val="displayName", value="Tiếp nhận")])
               .override_by_name("hoan_thanh", [model.DynamicConfigValue(id_val="displayName", value="Hoàn thành")]),
               12, 8)
    grid.place(bargauge.Panel().title("Hồ sơ tồn theo tuổi (ngày làm việc)").datasource(DATASOURCE)
               .with_target(sql_target(backlog_sql())).unit("short")
               .reduce_options(common_reduce(values=True)), 12, 8)
    grid.newline()
    for standing, title in (("due_soon", "Sắp đến hạn: hôm nay là hạn cuối gửi thư xin lỗi"),
                            ("overdue", "Hồ sơ quá hạn đang xử lý")):
        listing = (f"SELECT dossier_id, unit, procedure_code, due_at, officer FROM {OPEN_DOSSIERS} "
                   f"WHERE open = 1 AND standing = '{standing}' AND {DOSSIER_FILTER} ORDER BY due_at, dossier_id "
                   "LIMIT 500")
        grid.place(_linked_to_timeline(_table(title, listing)), 12, 9)
    grid.newline()
    worst = (f"SELECT scope_id AS don_vi, sum(to_process) AS can_xu_ly, {RATES[1].sql()} AS overdue_rate, "
             f"{RATES[0].sql()} AS on_time_rate, sum(open_overdue) AS ton_qua_han FROM ("
             + latest_kpis("unit", "day", f"period_start = {DAY}", in_selected_provinces("scope_id"),
                           tuple(sorted({*RATES[0].counts, *RATES[1].counts, "open_overdue"})))
             + ") GROUP BY scope_id ORDER BY overdue_rate DESC, scope_id LIMIT 10")
    grid.place(_table("Đơn vị có tỷ lệ trễ hạn cao nhất (hôm nay)", worst), 24, 8)
    board = _base("province", "10s").variables(scope_variables())
    return _finish(board, grid)


def backlog_sql() -> str:
    """Open dossiers by working days since acceptance (at the end of the range's last day)."""
    labels = ", ".join(f"'{label}'" for label, _ in AGES)
    bucket = ", ".join(f"accepted_on > w[{most + 1}], {i}" for i, (_, most) in enumerate(AGES[:-1], start=1))
    days = working_days_before(DAY, AGES[-2][1] + 1)
    return (f"SELECT arrayElement([{labels}], b) AS tuoi, count() AS ho_so FROM (SELECT multiIf({bucket}, "
            f"{len(AGES)}) AS b FROM (SELECT (SELECT {days}) AS w, toDate(accepted_at) AS accepted_on "
            f"FROM {OPEN_DOSSIERS} WHERE open = 1 AND {DOSSIER_FILTER})) GROUP BY b ORDER BY b")


def common_reduce(values: bool) -> common.ReduceDataOptions:
    return common.ReduceDataOptions().values(values).calcs(["lastNotNull"])


def drilldown() -> dash.Dashboard:
    """A unit's and a procedure's rates by day, month and quarter, and their dossiers."""
    grid = Grid()
    units = f"{in_selected_provinces('scope_id')} AND {where_in('scope_id', 'unit')}"
    day_range = f"period_start >= {FIRST_DAY} AND period_start <= {DAY}"
    by_day = (f"SELECT toDateTime(period_start, '{TIMEZONE}') AS time, "
              + ", ".join(f"{r.sql()} AS {r.column}" for r in RATES[:3])
              + f" FROM ({latest_kpis('unit', 'day', day_range, units)}) GROUP BY period_start ORDER BY period_start")
    grid.place(_labelled(timeseries.Panel().title("Tỷ lệ theo ngày (các đơn vị đã chọn)").datasource(DATASOURCE)
                         .with_target(sql_target(by_day, time_series=True)).unit(PERCENT).min(0).max(1)
                         .max_data_points(500), by_day), 24, 8)
    for period, start, label in (("month", MONTH, "tháng"), ("quarter", QUARTER, "quý")):
        grid.place(_table(f"Đơn vị theo {label}", _rates_by_row("unit", period, f"period_start = {start}", units)),
                   12, 8)
    procedures = f"{where_in('scope_id', 'procedure')}"
    grid.place(_table("Thủ tục theo tháng (toàn quốc)", _rates_by_row("procedure", "month", f"period_start = {MONTH}",
                                                                        procedures)), 12, 8)
    fields = f"{where_in('scope_id', 'field')}"
    grid.place(_table("Lĩnh vực theo tháng (toàn quốc)", _rates_by_row("field", "month", f"period_start = {MONTH}",
                                                                         fields)), 12, 8)
    changed = current_dossiers(f"SELECT dossier_id FROM {transitions_on(DAY)} AND {PROVINCES}")
    dossiers = ("SELECT dossier_id, unit, procedure_code, standing, since, due_at, outcome, officer "
                f"FROM {changed} WHERE toDate(since) = {DAY} AND {DOSSIER_FILTER} ORDER BY since DESC, dossier_id "
                "LIMIT 500")
    grid.place(_linked_to_timeline(_table("Hồ sơ có tình trạng mới trong ngày cuối của khoảng thời gian (bấm mã "
                                          "hồ sơ để xem dòng thời gian)", dossiers)), 24, 10)
    board = _base("drilldown", "30s", "now/M", "now/d").variables(scope_variables())
    return _finish(board, grid)


SCORES = (
    ("diem_tien_do", "20 * ({on_time})"),
    ("diem_truc_tuyen_uoc_tinh", "12 * ({online_completion})"),
    ("diem_thanh_toan", "10 * ({online_payment})"),
    ("diem_so_hoa", "6 * ({e_result}) + 4 * ({digitization})"),
    ("diem_hai_long", "least(6, 6 * ({satisfaction}) / 0.9)"),
)


def ranking_sql() -> str:
    """Provinces by the 766 group scores (formulas of dashboards/sql/scores_766.sql) for a month or quarter;
    under the 2025 hierarchy a province's scores are over the summed counts of its former provinces."""
    by_name = {r.column.removesuffix("_rate"): r.sql() for r in RATES}
    scores = ", ".join(f"{expr.format(**by_name)} AS {name}" for name, expr in SCORES)
    start = f"period_start = if('${{period}}' = 'quarter', {QUARTER}, {MONTH})"
    rows = latest_kpis("province", "${period}", start, "1 = 1")
    total = " + ".join(f"ifNull({name}, 0)" for name, _ in SCORES)
    return (f"SELECT shown_province AS tinh, {scores}, {total} AS tong_diem "
            f"FROM ({with_shown_province(rows, 'scope_id')}) GROUP BY shown_province ORDER BY tong_diem DESC, tinh")


def national_ranking() -> dash.Dashboard:
    grid = Grid()
    grid.place(_table("Xếp hạng tỉnh theo điểm nhóm 766 (tháng hoặc quý của ngày cuối khoảng thời gian)",
                      ranking_sql()).decimals(2), 24, 16)
    period = (dash.CustomVariable("period").label("Kỳ").values("month,quarter")
              .current(model.VariableOption(selected=True, text="month", value="month")))
    board = _base("ranking", "1m", "now/M", "now/d").variables([period, *scope_variables()])
    return _finish(board, grid)


def dossier_timeline() -> dash.Dashboard:
    """One dossier: its events and transitions, its standing, due instant and verdict."""
    grid = Grid()
    one = "${dossier_id:sqlstring}"
    current = f"SELECT * FROM {current_dossiers(the_dossier(one))} WHERE dossier_id = {one}"
    state = ("SELECT dossier_id, shown_province AS province, unit, procedure_code, standing, since, due_at, outcome, "
             f"end_type, officer FROM ({with_shown_province(current, 'province')})")
    grid.place(_table("Trạng thái, hạn trả và kết luận", state), 24, 4)
    grid.place(_table("Sự kiện và chuyển trạng thái", queries.query("dossier_timeline") % {"dossier_id": one}), 24, 14)
    variable = dash.TextBoxVariable("dossier_id").label("Mã hồ sơ")
    board = _base("timeline", "30s", "now-1y", "now").variables([variable, *scope_variables()])
    return _finish(board, grid)


ROLES = ("events", "transitions", "kpis", "alerts", "dlq")


def _series(title: str, sql: str, unit: str) -> timeseries.Panel:
    return _labelled(timeseries.Panel().title(title).datasource(DATASOURCE)
                     .with_target(sql_target(sql, time_series=True)).unit(unit).max_data_points(300), sql)


def pipeline_health() -> dash.Dashboard:
    """For engineers: what the sink wrote batch by batch (``sink_batches``), how fresh the KPI rows are,
    what was refused, which alerts."""
    grid = Grid()
    bucket = "toDateTime(intDiv(toUInt32({column}), $__interval_s) * $__interval_s)"
    written = bucket.format(column="written_at")
    role = "arrayElement(splitByChar('.', topic), -1)"
    events = (f"SELECT {written} AS time, sumIf(records, {role} = 'events') / $__interval_s AS su_kien_moi_giay "
              "FROM sink_batches WHERE $__timeFilter(written_at) GROUP BY time ORDER BY time")
    grid.place(_series("Sự kiện vào mỗi giây (sink đã ghi)", events, "short"), 12, 8)
    inserted = bucket.format(column="_inserted_at")
    freshness = (f"SELECT {inserted} AS time, avg(_inserted_at - watermark) AS trung_binh, "
                 "max(_inserted_at - watermark) AS lon_nhat FROM kpis WHERE $__timeFilter(_inserted_at) "
                 "AND provisional = 1 AND toUInt32(watermark) > 0 GROUP BY time ORDER BY time")
    grid.place(_series("Độ tươi: thời điểm sự kiện đến khi dòng KPI được ghi", freshness, "s"), 12, 8)
    by_role = ", ".join(f"sumIf(l, {role} = '{r}') AS {r}" for r in ROLES)
    lag = (f"SELECT time, {by_role} FROM (SELECT {written} AS time, topic, partition, max(lag) AS l "
           "FROM sink_batches WHERE $__timeFilter(written_at) AND lag >= 0 GROUP BY time, topic, partition) "
           "GROUP BY time ORDER BY time")
    grid.place(_series("Độ trễ của sink theo topic (bản ghi chưa ghi)", lag, "short"), 12, 8)
    writes = (f"SELECT {written} AS time, quantile(0.95)(write_ms) AS p95_ms, max(write_ms) AS lon_nhat_ms "
              "FROM sink_batches WHERE $__timeFilter(written_at) GROUP BY time ORDER BY time")
    grid.place(_series("Thời gian ghi một lô vào ClickHouse", writes, "ms"), 12, 8)
    batches = (f"SELECT {written} AS time, count() AS phan_vung_lo, sum(rows) AS dong FROM sink_batches "
               "WHERE $__timeFilter(written_at) GROUP BY time ORDER BY time")
    grid.place(_series("Lô ghi của sink (lượt phân vùng và số dòng)", batches, "short"), 8, 8)
    dlq = ("SELECT reason AS ly_do, count() AS so_ban_ghi FROM dlq_unique WHERE $__timeFilter(refused_at) "
           "GROUP BY reason ORDER BY so_ban_ghi DESC, ly_do LIMIT 50")
    grid.place(_table("Bản ghi bị từ chối (DLQ) theo lý do", dlq), 8, 8)
    # alerts_unique's rows, deduplicated after the time filter (an alert's copies share its instant)
    alerts = ("SELECT kind AS loai, count() AS so_canh_bao FROM (SELECT alert_id, any(kind) AS kind FROM alerts "
              "WHERE $__timeFilter(at) GROUP BY alert_id) GROUP BY kind ORDER BY so_canh_bao DESC, loai")
    grid.place(bargauge.Panel().title("Cảnh báo theo loại").datasource(DATASOURCE).with_target(sql_target(alerts))
               .reduce_options(common_reduce(values=True)), 8, 8)
    grid.place(notifications_panel(), 24, 8)
    # its time is the machines' own (when batches were written), never a replayed history's event time
    return _finish(_base("health", "10s", "now-1h", "now").tags(["motcua", WALL_CLOCK_TAG]), grid)


BUILDERS: dict[str, Callable[[], dash.Dashboard]] = {
    "province": province_operations,
    "drilldown": drilldown,
    "ranking": national_ranking,
    "timeline": dossier_timeline,
    "health": pipeline_health,
}
