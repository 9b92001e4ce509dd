"""The parts every screen is made of: the variables, the KPI rates with their 766 bands, SQL fragments
that run on ClickHouse 18.16 and on a current release, and a grid layout that never overlaps panels."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import datasource
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard as model

from dashboards.clickhouse import DATASOURCE, SHARED, Query
from dossier.merger import HIERARCHIES, Hierarchy

TIMEZONE = "Asia/Ho_Chi_Minh"
#: The local day the dashboard's time range ends on, and its month and quarter.
DAY = f"toDate(toTimeZone($__toTime, '{TIMEZONE}'))"
MONTH = f"toStartOfMonth({DAY})"
QUARTER = f"toStartOfQuarter({DAY})"
FIRST_DAY = f"toDate(toTimeZone($__fromTime, '{TIMEZONE}'))"
EPOCH = date(1970, 1, 1)  # day 0 of ClickHouse's Date


def where_in(column: str, variable: str) -> str:
    """``column IN (the selection)``, or no condition at all when All is selected (the plugin's macro)."""
    return f"$__conditionalAll({column} IN (${{{variable}}}), ${variable})"


CURRENT_COLUMNS = ("province", "unit", "procedure_code", "procedure_field", "officer", "standing", "since", "due_at",
                   "outcome", "end_type")


def current_dossiers(candidates: str) -> str:
    """``dossiers_current`` for only the dossiers that the query ``candidates`` lists (``SELECT dossier_id ...``).

    The view aggregates every dossier ever (1.5 million a year for two provinces: 1.7 s on ClickHouse 18.16,
    which pushes no condition into a view). Each dossier's current row is its row of greatest ``_version``,
    written by a transition: candidates that include every dossier whose current row meets the panel's
    condition (a superset is fine, the panel filters the current rows again), then aggregating every row of
    those dossiers, give exactly the view's rows, for the few dossiers the panel shows.
    """
    picked = ", ".join(f"argMax({c}, _version) AS {c}" for c in CURRENT_COLUMNS)
    return f"(SELECT dossier_id, {picked} FROM dossiers WHERE dossier_id IN ({candidates}) GROUP BY dossier_id)"


def transitions_on(day: str) -> str:
    """The transitions of the local day ``day`` (a Date expression): one monthly partition of ``transitions``
    read, not every ``dossiers`` row."""
    return (f"transitions WHERE at >= toDateTime({day}, '{TIMEZONE}') "
            f"AND at < toDateTime({day} + 1, '{TIMEZONE}')")


def the_dossier(dossier_id: str) -> str:
    """The ``dossiers`` rows of one dossier, found through the provinces its events are stored under
    (``dossier_units``, migration 0009): ``dossiers`` is sorted by (province, dossier_id)."""
    return (f"SELECT dossier_id FROM dossiers WHERE province IN "
            f"(SELECT province FROM dossier_units WHERE dossier_id = {dossier_id}) AND dossier_id = {dossier_id}")


#: The open dossiers, each its latest snapshot (migration 0008): ``FINAL`` keeps it, ``open`` says it is open.
OPEN_DOSSIERS = "open_dossiers FINAL"


# the 2025 province merger (DOMAIN.md section 5) -------------------------------------------------------------

#: True when the screens show the 34 provinces of 2025 (the ``hierarchy`` variable, ``hierarchy_variable``).
MERGED = "'${hierarchy}' = '2025'"
#: Former province -> the province it became part of, one row each (old_code, new_code): the view of migration
#: 0010 over ``province_merger_2025`` (0007), also read by the named SQL files and the alert rules.
MERGER = "province_codes_2025"


def province_code_selected(column: str) -> str:
    """``column`` (a province code as sent) is of a selected province, or no condition when All is selected.

    Under ``2025`` the former provinces of a selected province count too (a province code in force since the
    merger is its own former code, and codes not in the mapping stay as they are). Still an ``IN`` on the
    column, so the tables sorted by province read only the selected provinces' granules."""
    former = f"SELECT old_code FROM {MERGER} WHERE {MERGED} AND new_code IN (${{province}})"
    return f"$__conditionalAll(({column} IN (${{province}}) OR {column} IN ({former})), $province)"


def with_shown_province(rows: str, column: str, merged: str = MERGED) -> str:
    """The rows of the query ``rows`` and one more column, ``shown_province``: the province code ``column`` as
    sent under ``legacy``, the province it became part of under ``2025`` (the join of ``kpis_latest_2025``).
    Grouping by it sums the former provinces' counts; a rate over the sums is recomputed, never averaged.
    ``merged``: the SQL condition for ``2025`` (default the ``hierarchy`` variable's)."""
    return (f"SELECT *, if({merged} AND new_code != '', new_code, {column}) AS shown_province FROM ({rows}) AS as_sent "
            f"ANY LEFT JOIN (SELECT old_code AS {column}, new_code FROM {MERGER}) AS merger USING {column}")


def in_selected_provinces(column: str) -> str:
    """``column`` (a unit) is a unit of the selected provinces, or no condition when All is selected (unit KPI
    rows carry no province: ``scopes``, the units dossiers were accepted in, says where a unit is)."""
    units = f"SELECT DISTINCT unit FROM scopes WHERE {province_code_selected('province')}"
    return f"$__conditionalAll({column} IN ({units}), $province)"


@dataclass(frozen=True)
class Rate:
    """A KPI rate (DOMAIN.md section 4) as a roll-up: sum of numerators over sum of denominators.

    Bands: the 766 item gives full points at ``full_at`` (research 1.3: 50% online, 80% digitisation,
    90% satisfaction, 100% elsewhere; the score is linear below). Green from 90% of the item's points,
    yellow from 70%, red below. ``lower_is_better`` rates (overdue) use the complement.
    """

    column: str
    title: str
    numerator: str
    denominator: str
    full_at: float = 1.0
    lower_is_better: bool = False

    @property
    def counts(self) -> tuple[str, ...]:
        """The KPI row's count columns the rate is made of."""
        words = f"{self.numerator} {self.denominator}".replace("+", " ").replace("-", " ").split()
        return tuple(sorted(set(words)))

    def sql(self, where: str = "") -> str:
        """The roll-up over the rows (those where ``where`` holds, when given)."""
        total = f"sumIf({{}}, {where})" if where else "sum({})"
        den, num = total.format(self.denominator), total.format(self.numerator)
        return f"if({den} = 0, NULL, {num} / {den})"

    def thresholds(self) -> dash.ThresholdsConfig:
        green, yellow = round(0.9 * self.full_at, 4), round(0.7 * self.full_at, 4)
        if self.lower_is_better:
            steps = [model.Threshold(None, "green"), model.Threshold(round(1 - green, 4), "yellow"),
                     model.Threshold(round(1 - yellow, 4), "red")]
        else:
            steps = [model.Threshold(None, "red"), model.Threshold(yellow, "yellow"), model.Threshold(green, "green")]
        return dash.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(steps)


RATES: tuple[Rate, ...] = (
    Rate("on_time_rate", "Tỷ lệ đúng hạn", "finished_early + finished_on_time + open_within_due", "to_process"),
    Rate("overdue_rate", "Tỷ lệ trễ hạn", "finished_late + open_overdue", "to_process", lower_is_better=True),
    Rate("online_rate", "Tỷ lệ trực tuyến", "online_received", "received", full_at=0.5),
    Rate("online_completion_rate", "Hoàn thành trực tuyến toàn trình", "full_online_finished",
         "full_online_eligible_finished"),
    Rate("e_result_rate", "Kết quả điện tử", "e_result_finished", "result_finished"),
    Rate("digitization_rate", "Số hóa hồ sơ", "digitized_received", "received", full_at=0.8),
    Rate("online_payment_rate", "Thanh toán trực tuyến", "paid_online_received", "fee_received"),
    Rate("satisfaction_rate", "Mức độ hài lòng", "finished - satisfaction_failed_finished", "finished", full_at=0.9),
    Rate("apology_compliance_rate", "Xin lỗi đúng hạn", "late_finished_with_timely_apology", "finished_late"),
)

#: Vietnamese headers of the columns the screens' tables show (SQL aliases stay ASCII).
COLUMN_LABELS: dict[str, str] = {
    "dossier_id": "Mã hồ sơ", "province": "Tỉnh", "unit": "Đơn vị", "procedure_code": "Thủ tục",
    "standing": "Tình trạng", "since": "Từ lúc", "due_at": "Hạn trả", "outcome": "Kết quả",
    "end_type": "Cách kết thúc", "officer": "Cán bộ (bí danh)", "scope_id": "Mã", "period_start": "Kỳ",
    "can_xu_ly": "Cần xử lý", "don_vi": "Đơn vị", "ton_qua_han": "Tồn quá hạn", "tinh": "Tỉnh",
    "diem_tien_do": "Điểm tiến độ", "diem_truc_tuyen_uoc_tinh": "Điểm trực tuyến (ước tính)",
    "diem_thanh_toan": "Điểm thanh toán", "diem_so_hoa": "Điểm số hóa", "diem_hai_long": "Điểm hài lòng",
    "tong_diem": "Tổng điểm", "ly_do": "Lý do", "so_ban_ghi": "Số bản ghi", "at": "Thời điểm",
    "at_us": "µs", "what": "Loại dòng", "kind": "Loại", "status": "Trạng thái", "detail": "Chi tiết",
    "su_kien_moi_giay": "Sự kiện mỗi giây", "trung_binh": "Trung bình", "lon_nhat": "Lớn nhất", "p95_ms": "p95",
    "lon_nhat_ms": "Lớn nhất", "phan_vung_lo": "Lượt phân vùng", "dong": "Số dòng",
    **{r.column: r.title for r in RATES},
}

#: Every count a rate needs, read from the latest row of each KPI key.
COUNTS = tuple(sorted({count for r in RATES for count in r.counts}))


def latest_kpis(scope: str, period: str, start: str, condition: str, columns: tuple[str, ...] = COUNTS) -> str:
    """The latest row of every KPI key of one scope and period (as ``kpis_latest``, but filtered first)."""
    picked = ", ".join(f"argMax({c}, _version) AS {c}" for c in columns)
    return (f"SELECT scope_id, period_start, {picked} FROM kpis "
            f"WHERE scope = '{scope}' AND period = '{period}' AND {start} AND {condition} "
            "GROUP BY scope_id, period_start")


def latest_kpis_of_periods(scope: str, starts: dict[str, str], condition: str) -> str:
    """``latest_kpis`` of several periods at once (period -> its start), with a ``period`` column."""
    picked = ", ".join(f"argMax({c}, _version) AS {c}" for c in COUNTS)
    periods = " OR ".join(f"(period = '{period}' AND period_start = {start})" for period, start in starts.items())
    return (f"SELECT period, scope_id, period_start, {picked} FROM kpis "
            f"WHERE scope = '{scope}' AND ({periods}) AND {condition} GROUP BY period, scope_id, period_start")


@cache
def calendar_exceptions() -> tuple[tuple[date, ...], tuple[date, ...]]:
    """Weekdays that are not working days, and weekend days that are, 2024-2027 (the project's calendar)."""
    from dossier.calendar import default_calendar

    calendar = default_calendar()
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range((date(2028, 1, 1) - date(2024, 1, 1)).days)]
    off = tuple(d for d in days if d.weekday() < 5 and not calendar.is_working_day(d))
    on = tuple(d for d in days if d.weekday() >= 5 and calendar.is_working_day(d))
    return off, on


def working_days_before(end: str, count: int) -> str:
    """The ``count`` working days before the Date ``end``, latest first (weekdays, less holidays, plus swapped
    Saturdays); as a scalar subquery it is computed once per query, not per row. ``a`` is at most ``k``
    working days before ``end`` (working days in [a, end)) when ``a > w[k + 1]``. 2 x count + 30 calendar
    days hold them, Tết included. The exceptions are day numbers (one literal array each: half the cost of
    a ``toDate`` per date on ClickHouse 18.16)."""
    off, on = calendar_exceptions()
    off_sql = ", ".join(str((d - EPOCH).days) for d in off)
    on_sql = ", ".join(str((d - EPOCH).days) for d in on)
    return (f"arraySlice(arrayFilter(d -> (toDayOfWeek(d) <= 5 AND NOT has([{off_sql}], toUInt16(d))) "
            f"OR has([{on_sql}], toUInt16(d)), arrayMap(i -> {end} - i - 1, range({2 * count + 30}))), 1, {count})")


# variables ------------------------------------------------------------------------------------------------

def _query_variable(name: str, label: str, sql: str) -> dash.QueryVariable:
    return (dash.QueryVariable(name).label(label).datasource(DATASOURCE).query(sql)
            .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD).sort(model.VariableSort.ALPHABETICAL_ASC)
            .multi(True).include_all(True)
            .current(model.VariableOption(selected=True, text=["All"], value=["$__all"])))


#: The provinces dossiers were accepted in, each as sent and as the hierarchy shows it.
PROVINCES_SHOWN = with_shown_province("SELECT DISTINCT province FROM scopes", "province")
VARIABLE_SQL = {  # from scopes: the (province, unit, procedure, field) dossiers were accepted in
    "province": f"SELECT DISTINCT shown_province FROM ({PROVINCES_SHOWN}) ORDER BY shown_province",
    "unit": f"SELECT DISTINCT unit FROM scopes WHERE {province_code_selected('province')} ORDER BY unit",
    "procedure": ("SELECT DISTINCT procedure_code FROM scopes WHERE "
                  f"{province_code_selected('province')} AND {where_in('unit', 'unit')} ORDER BY procedure_code"),
    "field": ("SELECT DISTINCT procedure_field FROM scopes WHERE procedure_field != '' AND "
              f"{province_code_selected('province')} AND {where_in('unit', 'unit')} ORDER BY procedure_field"),
}
VARIABLE_LABELS = {"province": "Tỉnh/thành phố", "unit": "Đơn vị", "procedure": "Thủ tục", "field": "Lĩnh vực"}
DEFAULT_HIERARCHY: Hierarchy = "2025"


def hierarchy_variable() -> dash.CustomVariable:
    """Which provinces the screens show: ``2025``, the 34 provinces in force since 1 July 2025 (a former
    province's rows and dossiers counted in the province it became part of), or ``legacy``, province codes as
    the dossiers were sent (the 63 former provinces for a dossier accepted before the merger).

    ``2025`` by default: the screens serve today's operations centres, which are the 34 provinces, and a
    dossier still carrying a former code (accepted before the merger, or sent since by a former province's
    system) is in its new province's backlog. ``legacy`` shows history as sent, as ``motcua kpi`` prints it
    without ``--hierarchy``.
    """
    return (dash.CustomVariable("hierarchy").label("Địa giới").values(",".join(HIERARCHIES)).allow_custom_value(False)
            .description("2025: 34 tỉnh, thành phố từ 1/7/2025 (số liệu của các tỉnh cũ cộng vào tỉnh mới); "
                         "legacy: 63 tỉnh, thành phố trước 1/7/2025 (mã tỉnh như hồ sơ đã gửi)")
            .current(model.VariableOption(selected=True, text=DEFAULT_HIERARCHY, value=DEFAULT_HIERARCHY)))


def scope_variables() -> list[cogbuilder.Builder[model.VariableModel]]:
    """hierarchy, then province -> unit -> procedure / field, each multi-value with All."""
    scopes = [_query_variable(name, VARIABLE_LABELS[name], sql) for name, sql in VARIABLE_SQL.items()]
    return [hierarchy_variable(), *scopes]


# layout ---------------------------------------------------------------------------------------------------

@dataclass
class Grid:
    """Places panels left to right in rows of 24 columns and numbers them; no two panels overlap."""

    x: int = 0
    y: int = 0
    row_height: int = 0
    next_id: int = 1
    panels: list[cogbuilder.Builder[model.Panel]] = field(default_factory=list)

    def place(self, panel: cogbuilder.Builder[model.Panel], w: int, h: int) -> None:
        if self.x + w > 24:
            self.newline()
        panel.build().grid_pos = model.GridPos(h=h, w=w, x=self.x, y=self.y)
        panel.build().id_val = self.next_id
        self.next_id += 1
        self.x += w
        self.row_height = max(self.row_height, h)
        self.panels.append(panel)

    def newline(self) -> None:
        self.y += self.row_height
        self.x, self.row_height = 0, 0


def sql_target(sql: str, time_series: bool = False) -> Query:
    query = Query(sql)
    return query.time_series() if time_series else query


def shared_target(panel_id: int) -> datasource.Dataquery:
    """A target of Grafana's Dashboard datasource: the result of panel ``panel_id``'s query, not a query."""
    return datasource.Dataquery().panel_id(panel_id).ref_id("A").datasource(SHARED)


def dashboard_link(title: str, uid: str) -> dash.DashboardLink:
    return (dash.DashboardLink(title).type(model.DashboardLinkType.LINK).url(f"/d/{uid}")
            .include_vars(True).keep_time(True))
