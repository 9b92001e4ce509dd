"""Grafana alert rules as code (grafana-foundation-sdk's alerting builders), their contact point (the webhook of
``motcua notify``) and the notification policy, as one file-provisioning document; and the notifications panel
of the pipeline-health screen.

Rules (folder ``motcua``, evaluated every minute):

* the pipeline is stalled: KPI rows land more than 60 s behind their event time, or no event has landed for
  10 minutes during working hours (the SLA calendar's: weekdays, holidays and swapped Saturdays included);
* the DLQ is growing: records were refused in the last 10 minutes;
* a unit's on-time rate this month is below 90% (units with at least 20 dossiers to process).

Rule SQL uses only the ClickHouse plugin's backend macros (``$__timeFilter``, ``$__toTime``): alert queries are
run by Grafana's backend, without the dashboards' variables. Every alert carries ``motcua_kind`` (and
``unit``/``province`` for a unit's rule), which ``motcua notify`` routes: a unit's head, or whoever is on call.

The 2025 merger (DOMAIN.md section 5): a rule has no ``hierarchy`` variable to follow, so the choice is made
here. The rates are the same in both hierarchies (only province rows are re-aggregated; the rules read unit
and pipeline rows). The unit rule's ``province`` label is the province in force at the evaluation instant
(``$__toTime``): from 2025-07-01 the one of the 34 that the unit's province became part of
(``province_codes_2025``, migration 0010), before it the code as sent. The label says whose province office
the escalation climbs to, and who is on call for it: the office that exists when the page is sent, the one
``motcua notify roster check`` accepts (the 34 codes); a unit's dossiers accepted before and after the merger
carry two codes (74 and 79), which would otherwise make the label, and so the alert instance, flip between
them from one evaluation to the next.
"""

from __future__ import annotations

import json
from typing import Any

from grafana_foundation_sdk.builders import alerting, expr, table
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.alerting import RelativeTimeRange
from grafana_foundation_sdk.models.common import DataSourceRef

from dashboards.clickhouse import DATASOURCE, DATASOURCE_UID
from dashboards.panels import (
    MONTH,
    RATES,
    TIMEZONE,
    calendar_exceptions,
    latest_kpis,
    sql_target,
    with_shown_province,
)
from dossier.calendar import DAY, DEFAULT_SESSIONS, LOCAL_OFFSET, day_number, day_start
from dossier.merger import MERGER_DAY

GROUP = "motcua-pipeline"
CONTACT_POINT = "motcua-notify"
#: Grafana expands environment variables in provisioning files; compose sets both for the grafana service.
WEBHOOK_URL = "${MOTCUA_NOTIFY_WEBHOOK_URL}"
WEBHOOK_TOKEN = "${MOTCUA_NOTIFY_WEBHOOK_TOKEN}"
EXPRESSIONS = "__expr__"
FRESHNESS_LIMIT = 60  # seconds between a KPI row's event time and its landing
SILENCE = 600  # seconds without a landed event, in working hours
ON_TIME_THRESHOLD = 0.9
MIN_TO_PROCESS = 20
#: The evaluation instant is in the 34 provinces' time (local midnight starting 2025-07-01 and after).
IN_2025 = f"$__toTime >= toDateTime({int(day_start(day_number(MERGER_DAY)))})"

def working_now() -> str:
    """1 when ``$__toTime`` is a working instant of the SLA calendar (closed sessions, as dossier.calendar)."""
    off, on = (", ".join(f"toDate('{d}')" for d in days) for days in calendar_exceptions())
    day = f"toDate(toTimeZone($__toTime, '{TIMEZONE}'))"
    working_day = f"((toDayOfWeek({day}) <= 5 AND NOT has([{off}], {day})) OR has([{on}], {day}))"
    second = f"((toUInt32($__toTime) + {LOCAL_OFFSET}) % {DAY})"  # of the local day (+07:00 since 1975)
    in_session = " OR ".join(f"({second} >= {start} AND {second} <= {end})" for start, end in DEFAULT_SESSIONS)
    return f"({working_day} AND ({in_session}))"


def stalled_sql() -> str:
    freshness = ("SELECT max(toInt64(toUInt32(_inserted_at)) - toInt64(toUInt32(watermark))) FROM kpis "
                 "WHERE _inserted_at >= $__toTime - 120 AND _inserted_at <= $__toTime AND provisional = 1 "
                 "AND toUInt32(watermark) > 0")
    landed = "SELECT count() FROM events WHERE $__timeFilter(_inserted_at)"
    return (f"SELECT toUInt8(({freshness}) > {FRESHNESS_LIMIT} OR (({landed}) = 0 AND {working_now()})) "
            "AS stalled")


def dlq_sql() -> str:
    return "SELECT count() AS refused FROM dlq WHERE $__timeFilter(_inserted_at)"


def unit_on_time_sql() -> str:
    """Each unit's on-time rate this month (the month of ``$__toTime``), with its province as a label: the
    province in force at ``$__toTime`` (module docstring)."""
    rate = RATES[0]
    rows = latest_kpis("unit", "month", f"period_start = {MONTH}", "1 = 1", rate.counts)
    by_unit = (f"SELECT scope_id AS unit, {rate.sql()} AS {rate.column} FROM ({rows}) GROUP BY scope_id "
               f"HAVING sum(to_process) >= {MIN_TO_PROCESS}")
    # ``scopes``: the (province, unit) pairs dossiers were accepted in, a few thousand rows, not every dossier
    provinces = with_shown_province("SELECT DISTINCT unit, province FROM scopes", "province", IN_2025)
    return (f"SELECT unit, province, {rate.column} FROM ({by_unit}) AS rates ANY LEFT JOIN "
            f"(SELECT unit, any(shown_province) AS province FROM ({provinces}) GROUP BY unit) AS units USING unit "
            "ORDER BY unit")


def _rule(uid: str, title: str, sql: str, seconds: int, evaluator: str, limit: float, labels: dict[str, str],
          summary: str, no_data: str = "OK") -> alerting.Rule:
    query = (alerting.Query("A").datasource_uid(DATASOURCE_UID).model(sql_target(sql))
             .relative_time_range(RelativeTimeRange(seconds, 0)))
    threshold = (expr.TypeThreshold().ref_id("B").expression("A")
                 .datasource(DataSourceRef(type_val=EXPRESSIONS, uid=EXPRESSIONS))
                 .conditions([expr.ExprTypeThresholdConditions()
                              .evaluator(expr.ExprTypeThresholdConditionsEvaluator().type(evaluator)  # type: ignore[arg-type]
                                         .params([limit]))]))
    return (alerting.Rule(title).uid(uid).condition("B").queries(
        [query, alerting.Query("B").datasource_uid(EXPRESSIONS).model(threshold)])
            .for_val("2m").no_data_state(no_data).exec_err_state("Error")  # type: ignore[arg-type]
            .labels(labels).annotations({"summary": summary}))


def rules() -> list[alerting.Rule]:
    return [
        _rule("motcua-pipeline-stalled", "Luồng dữ liệu bị ngừng", stalled_sql(), SILENCE, "gt", 0,
              {"motcua_kind": "pipeline"},
              f"Luồng dữ liệu bị ngừng: dòng KPI chậm quá {FRESHNESS_LIMIT} giây so với thời điểm sự kiện, hoặc "
              f"không có sự kiện mới trong {SILENCE // 60} phút của giờ làm việc."),
        _rule("motcua-dlq-growing", "Hàng đợi bản ghi lỗi (DLQ) tăng", dlq_sql(), SILENCE, "gt", 0,
              {"motcua_kind": "pipeline"},
              f"Có bản ghi bị từ chối vào DLQ trong {SILENCE // 60} phút qua: xem bảng DLQ theo lý do."),
        _rule("motcua-unit-on-time-rate", "Tỷ lệ đúng hạn của đơn vị dưới ngưỡng", unit_on_time_sql(), 3600, "lt",
              ON_TIME_THRESHOLD, {"motcua_kind": "unit_on_time_rate"},
              f"Tỷ lệ hồ sơ đúng hạn của đơn vị trong tháng dưới {ON_TIME_THRESHOLD:.0%} "
              f"(đơn vị có từ {MIN_TO_PROCESS} hồ sơ cần xử lý)."),
    ]


def contact_point() -> alerting.ContactPoint:
    return (alerting.ContactPoint().uid("motcua-notify-webhook").name(CONTACT_POINT).type("webhook")
            .settings({"url": WEBHOOK_URL, "httpMethod": "POST", "authorization_scheme": "Bearer",
                       "authorization_credentials": WEBHOOK_TOKEN})
            .disable_resolve_message(False))


def policy() -> alerting.NotificationPolicy:
    return (alerting.NotificationPolicy().receiver(CONTACT_POINT).group_by(["grafana_folder", "alertname"])
            .group_wait("30s").group_interval("5m").repeat_interval("4h"))


def _json(builder: Any) -> dict[str, Any]:
    encoded: dict[str, Any] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    return encoded


def provisioning(folder: str) -> dict[str, Any]:
    """The ``alerting/`` provisioning document: the rule group, the contact point and the policy (org 1).

    The SDK builds the HTTP API's shapes; the file format nests rules in their group (by folder name) and
    receivers in their contact point, and has no per-rule folder, group or org.
    """
    api_only = ("folderUID", "ruleGroup", "orgID")
    group_rules = [{k: v for k, v in _json(r).items() if k not in api_only} for r in rules()]
    receiver = _json(contact_point())
    return {
        "apiVersion": 1,
        "groups": [{"orgId": 1, "name": GROUP, "folder": folder, "interval": "1m", "rules": group_rules}],
        "contactPoints": [{"orgId": 1, "name": receiver.pop("name"), "receivers": [receiver]}],
        "policies": [{"orgId": 1, **_json(policy())}],
    }


#: The notifications table's columns and their Vietnamese headers.
NOTIFICATION_COLUMNS = {
    "kind": "Loại cảnh báo", "route": "Tuyến", "channel": "Kênh", "status": "Trạng thái",
    "so_thong_bao": "Số thông báo", "so_lan_gui": "Số lần gửi", "da_xac_nhan": "Đã xác nhận",
    "chuyen_cap": "Chuyển cấp",
}


def notifications_panel() -> table.Panel:
    """The pipeline-health screen's table of pages: by kind, route, channel and status, with attempts and acks."""
    sql = ("SELECT kind, route, channel, status, count() AS so_thong_bao, sum(attempts) AS so_lan_gui, "
           "countIf(acked_at IS NOT NULL) AS da_xac_nhan, countIf(escalated_to != '') AS chuyen_cap "
           "FROM notifications_latest WHERE $__timeFilter(updated_at) GROUP BY kind, route, channel, status "
           "ORDER BY so_thong_bao DESC, kind, route, channel, status")
    panel = table.Panel().title("Thông báo gửi cán bộ (motcua notify)").datasource(DATASOURCE).with_target(
        sql_target(sql))
    for column, label in NOTIFICATION_COLUMNS.items():
        panel.override_by_name(column, [model.DynamicConfigValue(id_val="displayName", value=label)])
    return panel
