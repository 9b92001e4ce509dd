"""The notifier's pure decisions without any service: routing, working-hour holds, escalation deadlines in
working time, retries, expiry, digest grouping, the roster's check, what a page says, signed links."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from dossier.calendar import HOUR, default_calendar, format_instant
from notify import links
from notify.messages import message_id, render
from notify.model import PIPELINE, Alert, Page
from notify.policy import (
    Policy,
    digest_groups,
    escalation_deadline,
    expiry,
    parse_duration,
    parse_escalation,
    release_at,
    retry_delay,
)
from notify.roster import Seen, check_roster, read_entries
from notify.routing import escalation, route
from tests.notify.helpers import COMMUNE, FINANCE, JUSTICE, PROVINCE, ROSTER, at, contact, due_soon, unit_alert

CAL = default_calendar()
POLICY = Policy()


def names(r: object) -> list[str]:
    return [c.recipient for c in r.contacts]  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------------ routing


def test_a_dossier_alert_goes_to_its_officer_when_on_the_roster() -> None:
    r = route(due_soon("D1", officer="binh"), ROSTER)
    assert (names(r), r.name, r.level, r.unrouted) == (["binh"], "officer", 0, False)


def test_otherwise_to_the_units_officers() -> None:
    r = route(due_soon("D1", officer="someone-else"), ROSTER)
    assert (names(r), r.name, r.unrouted) == (["an", "binh"], "unit_officers", False)
    assert names(route(due_soon("D1"), ROSTER)) == ["an", "binh"]


def test_a_unit_without_officers_has_no_route_and_falls_back_to_the_province_office() -> None:
    for unit in (COMMUNE, FINANCE):
        r = route(due_soon("D1", unit=unit), ROSTER)
        assert (names(r), r.name, r.level, r.unrouted) == (["giang"], "fallback", 2, True)


def test_unit_alerts_go_to_the_unit_head_and_pipeline_alerts_to_on_call() -> None:
    assert (names(r := route(unit_alert(JUSTICE), ROSTER)), r.name) == (["chi"], "unit_head")
    assert names(route(unit_alert(FINANCE), ROSTER)) == ["giang"]
    pipeline = Alert("grafana:stalled:f:x", PIPELINE, at("2025-07-08T02:00"))
    assert (names(r := route(pipeline, ROSTER)), r.name, r.level) == (["hai"], "on_call", 3)


def test_without_a_province_office_the_fallback_is_on_call_and_then_no_one() -> None:
    alert = due_soon("D1", unit=FINANCE)
    no_office = type(ROSTER)([c for c in ROSTER.contacts if c.role != "province_office"])
    assert (names(r := route(alert, no_office)), r.name, r.unrouted) == (["hai"], "fallback", True)
    nobody = type(ROSTER)([])
    assert (names(r := route(alert, nobody)), r.name, r.unrouted) == ([], "none", True)


def test_escalation_climbs_officer_unit_head_province_office_and_stops() -> None:
    alert = due_soon("D1", officer="an")
    assert names(escalation(alert, 0, ROSTER)) == ["chi"]
    assert names(escalation(alert, 1, ROSTER)) == ["giang"]
    assert escalation(alert, 2, ROSTER) is None
    assert names(escalation(due_soon("D2", unit=FINANCE), 0, ROSTER)) == ["giang"]  # no head: skipped


# ----------------------------------------------------------------------------------------- working hours


@pytest.mark.parametrize(("now", "released"), [
    ("2025-07-08T18:00", "2025-07-09T07:00:00+07:00"),  # evening: next morning at 07:00
    ("2025-07-09T06:59", "2025-07-09T07:00:00+07:00"),
    ("2025-07-09T07:00", "2025-07-09T07:00:00+07:00"),  # at work: at once
    ("2025-07-09T12:00", "2025-07-09T13:30:00+07:00"),  # lunch
    ("2025-07-11T17:30", "2025-07-14T07:00:00+07:00"),  # Friday evening: Monday
    ("2025-01-24T18:00", "2025-02-03T07:00:00+07:00"),  # the eve of Tết 2025: after the holidays
])
def test_quiet_hours_hold_a_due_soon_page_until_the_next_working_period(now: str, released: str) -> None:
    assert format_instant(release_at("due_soon", "officer", at(now), CAL, POLICY)) == released


def test_kinds_that_wake_people_and_on_call_go_at_once() -> None:
    night = at("2025-07-08T23:00")
    assert release_at(PIPELINE, "unit_head", night, CAL, POLICY) == night
    assert release_at("due_soon", "on_call", night, CAL, POLICY) == night
    assert release_at("overdue", "officer", night, CAL, Policy(wake_kinds=frozenset({"overdue"}))) == night
    assert release_at("overdue", "officer", night, CAL, POLICY) == at("2025-07-09T07:00")


@pytest.mark.parametrize(("sent", "deadline"), [
    ("2025-07-08T09:00", "2025-07-08T11:00:00+07:00"),
    ("2025-07-08T10:30", "2025-07-08T14:30:00+07:00"),  # lunch does not count
    ("2025-07-11T16:00", "2025-07-14T08:00:00+07:00"),  # nor the weekend
    ("2025-07-08T20:00", "2025-07-09T09:00:00+07:00"),  # sent at night (an overdue that wakes): from 07:00
])
def test_due_soon_escalates_after_2_working_hours(sent: str, deadline: str) -> None:
    assert format_instant(escalation_deadline("due_soon", at(sent), CAL, POLICY)) == deadline  # type: ignore[arg-type]


def test_escalation_delays_are_per_kind_and_configurable() -> None:
    assert escalation_deadline(PIPELINE, at("2025-07-08T09:00"), CAL, POLICY) is None
    policy = Policy(escalate_after=parse_escalation("due_soon=30m,unit_overdue_rate=never"))
    assert escalation_deadline("due_soon", at("2025-07-08T09:00"), CAL, policy) == at("2025-07-08T09:30")
    assert escalation_deadline("unit_overdue_rate", at("2025-07-08T09:00"), CAL, policy) is None
    assert policy.escalate_after["overdue"] == 2 * HOUR
    with pytest.raises(ValueError, match="kind=duration"):
        parse_escalation("due_soon")
    assert [parse_duration(t) for t in ("90", "90s", "30m", "2h", "1.5d")] == [90, 90, 1800, 7200, 129600]


def test_retries_back_off_exponentially_up_to_a_cap() -> None:
    policy = Policy(retry_first=2.0, retry_max=30.0)
    assert [retry_delay(n, policy) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]


def test_old_alerts_and_alerts_before_since_expire() -> None:
    now = at("2026-03-02T09:00")
    assert expiry(at("2024-05-06T09:00"), now, POLICY).startswith("older than --max-age")
    assert expiry(at("2026-03-02T08:00"), now, POLICY) == ""
    assert expiry(at("2026-03-02T08:00"), now, Policy(since=at("2026-03-02T08:30"))) == "before --since"


# ------------------------------------------------------------------------------------------------ digests


def ready_page(alert: Alert, recipient: str, wall: float) -> Page:
    return Page(alert, contact(recipient, JUSTICE, "officer"), "officer", 0, 0, "queued", alert.at, ready_wall=wall)


def test_a_recipients_pages_go_together_once_the_first_has_waited_the_window() -> None:
    pages = [ready_page(due_soon(f"D{i}"), "an", 100.0 + i) for i in range(7)] + [ready_page(due_soon("E"), "binh",
                                                                                             130.0)]
    assert digest_groups(pages, set(), 159.0, POLICY) == []
    groups = digest_groups(pages, set(), 160.0, POLICY)
    assert [[p.alert.dossier_id for p in g] for g in groups] == [[f"D{i}" for i in range(7)]]
    assert len(digest_groups(pages, set(), 190.0, POLICY)) == 2
    assert digest_groups(pages, {"an", "binh"}, 500.0, POLICY) == []  # a message on its way: the next waits


def test_a_long_digest_is_split_and_a_zero_window_sends_at_once() -> None:
    pages = [ready_page(due_soon(f"D{i:03d}"), "an", 0.0) for i in range(250)]
    assert [len(g) for g in digest_groups(pages, set(), 60.0, POLICY)] == [100, 100, 50]
    assert len(digest_groups(pages[:1], set(), 0.0, Policy(digest_window=0))) == 1


# ------------------------------------------------------------------------------------------------- roster

ROSTER_CSV = """official_id,unit,role,name,notify_url
cb-001,000.00.01.H79,officer,Nguyễn Văn An,mailto://an@example.org
cb-002,000.00.01.H79,unit_head,Trần Thị Bình,json://127.0.0.1:9/hook
cb-003,79,province_office,Văn phòng UBND tỉnh,mailto://vp@example.org
cb-001,000.00.01.H79,officer,Nguyễn Văn An,mailto://an@example.org
cb-004,000.00.99.H79,officer,Lê Văn Chí,nosuch://x
cb-005,99,province_office,X,mailto://x@example.org
cb-006,000.00.01.H79,chief,Y,mailto://y@example.org
cb-007,000.00.01.H79,officer,,mailto://z@example.org
"""


def test_roster_check_names_every_problem_by_line_never_by_contact() -> None:
    entries, problems = read_entries(ROSTER_CSV)
    seen = [Seen("due_soon", "79", "000.00.01.H79", True), Seen("due_soon", "79", "000.01.00.H79", True),
            Seen("unit_overdue_rate", "79", "000.00.02.H79", False), Seen("overdue", "01", "000.00.01.H01", True)]
    units = {"000.00.01.H79", "000.01.00.H79", "000.00.02.H79", "000.00.01.H01"}
    found = [str(p) for p in check_roster(entries, problems, lambda url: not url.startswith("nosuch"), units,
                                          {"01", "79"}, seen)]
    assert found == [
        "line 8: role 'chief' is not one of officer, unit_head, province_office, on_call",
        "line 9: empty name",
        "line 5: same official, role and unit as line 2",
        "line 6: notify_url does not parse as an Apprise URL (scheme nosuch)",
        "line 6: unknown unit 000.00.99.H79 for role officer",
        "line 7: unknown province 99 for role province_office",
        "province 01 has alerts but no province_office (the fallback)",
        "unit 000.00.01.H01 (province 01) has dossier alerts but no officer or unit_head",
        "unit 000.00.02.H79 (province 79) has unit_overdue_rate alerts but no unit_head",
        "unit 000.01.00.H79 (province 79) has dossier alerts but no officer or unit_head",
        "no on_call line: the pipeline's own alerts (Grafana) would reach no one",
    ]
    assert not any("example.org" in p or "Nguyễn" in p for p in found)
    assert [str(p) for p in read_entries("id,unit\n1,2\n")[1]] == [
        "line 1: the header must be official_id,unit,role,name,notify_url"]


# -------------------------------------------------------------------------------------------- the message


def test_a_page_is_vietnamese_with_the_dossier_the_procedure_the_unit_the_due_time_and_ref_lines() -> None:
    alerts = [due_soon("000.00.01.H79-250708-0012", due="2025-07-09T10:00"), due_soon("000.00.01.H79-250708-0013")]
    overdue = Alert("overdue:D9:2025-07-08T09:00:01+07:00", "overdue", at("2025-07-08T09:00"), PROVINCE, JUSTICE,
                    "D9", "", "1.000894", at("2025-07-08T09:00"))
    pages = [ready_page(a, "an", 0.0) for a in [*alerts, overdue]]
    title, body = render(contact("an", JUSTICE, "officer"), pages, "http://notify/ack?m=x")
    assert title == "[motcua] 2 hồ sơ đến hạn hôm nay, 1 hồ sơ đã quá hạn"
    assert "Kính gửi Cán bộ an," in body
    assert ("- Hồ sơ 000.00.01.H79-250708-0012: Đăng ký khai sinh (1.001193); đơn vị: Sở Tư pháp TP. Hồ Chí Minh "
            "(000.00.01.H79); hạn trả kết quả: 10:00 ngày 09/07/2025.") in body
    assert "gửi thư xin lỗi công dân" in body and "chuyển hồ sơ" in body and "Đăng ký khai tử" in body
    assert body.splitlines()[-3:] == [f"ref: {a.alert_id}" for a in [*alerts, overdue]]
    assert "http://notify/ack?m=x" in body


def test_unit_and_escalated_pages_say_what_happened() -> None:
    page = Page(unit_alert(JUSTICE), contact("chi", JUSTICE, "unit_head"), "escalation", 1, 0, "queued", 0.0)
    title, body = render(contact("chi", JUSTICE, "unit_head"), [page], "L")
    assert title == "[motcua] Chuyển cấp: 1 cảnh báo tỷ lệ trễ hạn của đơn vị"
    assert "Chuyển cấp:" in body and "vượt ngưỡng 20%" in body
    assert message_id("chi", [page]) == message_id("chi", [page]) != message_id("an", [page])


def test_ack_links_are_signed_per_message_and_recipient() -> None:
    key = links.link_key(lambda v: hmac.new(b"k" * 16, v.encode(), hashlib.sha256).hexdigest()[:32])
    link = links.ack_link("http://127.0.0.1:18095/", key, "m1", "an")
    assert link.startswith("http://127.0.0.1:18095/ack?m=m1&r=an&s=")
    sig = link.rsplit("s=", 1)[1]
    assert links.verify(key, "m1", "an", sig)
    assert not links.verify(key, "m1", "binh", sig) and not links.verify(key, "m2", "an", sig)
    assert not links.verify(b"other", "m1", "an", sig)
