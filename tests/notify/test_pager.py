"""The notifier's state machine (``notify.core.Pager``) on plain values: admission, quiet hours, digests,
escalation in working time, acknowledgement, resolution, retries and failover, and restoring from rows."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from notify import core
from notify.model import Alert, Page
from notify.policy import Policy
from notify.roster import Roster
from tests.notify.helpers import FINANCE, ROSTER, at, due_soon

WINDOW = Policy(digest_window=10.0, attempts=3, retry_first=1.0, retry_max=4.0)


def recorded(pages: list[Page]) -> list[Page]:
    """What the service does once the pages' rows are in ClickHouse (only then may they go)."""
    for page in pages:
        page.recorded = True
    return pages


class Pager(core.Pager):
    """The pager as the service drives it: every page it returns is recorded at once."""

    def admit(self, alert: Alert, owner: int, now: float) -> list[Page]:
        return recorded(super().admit(alert, owner, now))

    def escalate(self, now: float) -> list[Page]:
        return recorded(super().escalate(now))

    def failed(self, message: core.Message, error: str, now: float, wall: float) -> tuple[list[Page], list[Page]]:
        changed, dead = super().failed(message, error, now, wall)
        return recorded(changed), dead


def statuses(pages: list[Page]) -> list[tuple[str, str]]:
    return sorted((p.recipient, p.status) for p in pages)


def send_all(pager: Pager, now: float, wall: float) -> list[str]:
    """Deliver every message due now, once the digest window (from ``wall``) has passed; the recipients."""
    sent = [m.contact.recipient for m in pager.messages(now, wall)]
    assert sent == []  # the window has only started
    for m in pager.messages(now, wall + pager.policy.digest_window):
        pager.delivered(m, now)
        sent.append(m.contact.recipient)
    return sent


def test_a_page_does_not_go_before_it_is_recorded() -> None:
    pager = core.Pager(ROSTER, Policy(digest_window=0))
    now = at("2025-07-08T09:00")
    pages = pager.admit(due_soon("D1"), 0, now)
    assert pager.messages(now, 0.0) == []
    recorded(pages)
    assert len(pager.messages(now, 0.0)) == 2


def test_admission_pages_each_recipient_once_and_records_what_reaches_no_one() -> None:
    pager = Pager(ROSTER, WINDOW)
    now = at("2025-07-08T09:00")
    alert = due_soon("D1")
    assert statuses(pager.admit(alert, 0, now)) == [("an", "queued"), ("binh", "queued")]
    assert pager.admit(alert, 0, now) == []  # open here already
    old = due_soon("D0", when="2025-07-01T09:00")
    assert [(p.status, p.recipient, p.error[:5]) for p in pager.admit(old, 0, now)] == [("expired", "", "older")]
    nobody = Pager(Roster([]), WINDOW)
    (page,) = nobody.admit(due_soon("D2", unit=FINANCE), 1, now)
    assert (page.status, page.route, page.recipient, page.owner) == ("unroutable", "none", "", 1)
    assert nobody.counts["unrouted"] == 1 and "D2" not in str(nobody.open)


def test_quiet_hours_hold_until_07_00_then_the_digest_goes() -> None:
    pager = Pager(ROSTER, WINDOW)
    evening = at("2025-07-08T18:00")
    pages = [p for i in range(3) for p in pager.admit(due_soon(f"D{i}", officer="an", when="2025-07-08T18:00"), 0,
                                                        evening)]
    assert {(p.status, p.release_at) for p in pages} == {("held", at("2025-07-09T07:00"))}
    assert pager.messages(at("2025-07-09T06:59"), 1000.0) == []
    assert pager.messages(at("2025-07-09T07:00"), 1001.0) == []  # released: the digest window starts
    (message,) = pager.messages(at("2025-07-09T07:00"), 1011.0)
    assert (message.contact.recipient, len(message.pages)) == ("an", 3)


def test_an_unacknowledged_page_climbs_to_the_unit_head_then_the_province_office_in_working_time() -> None:
    pager = Pager(ROSTER, WINDOW)
    sent_at = at("2025-07-08T10:30")
    pager.admit(due_soon("D1", officer="an", when="2025-07-08T10:30"), 0, sent_at)
    assert send_all(pager, sent_at, 100.0) == ["an"]
    assert pager.escalate(at("2025-07-08T14:29")) == []
    changed = pager.escalate(at("2025-07-08T14:30"))  # 2 working hours: lunch does not count
    assert statuses(changed) == [("an", "escalated"), ("chi", "queued")]
    assert changed[0].escalated_to == "chi" and changed[1].route == "escalation" and changed[1].level == 1
    assert send_all(pager, at("2025-07-08T14:30"), 200.0) == ["chi"]
    assert statuses(pager.escalate(at("2025-07-08T16:30"))) == [("chi", "escalated"), ("giang", "queued")]
    assert send_all(pager, at("2025-07-08T16:30"), 300.0) == ["giang"]
    assert pager.open == {} and pager.deadlines == {}  # nobody above the province office: settled


def test_an_acknowledgement_stops_the_escalation() -> None:
    pager = Pager(ROSTER, WINDOW)
    now = at("2025-07-08T09:00")
    pager.admit(due_soon("D1"), 0, now)
    send_all(pager, now, 100.0)
    message_ids = {p.message_id for pages in pager.open.values() for p in pages.values()}
    assert [pager.alerts_of_message(m) for m in message_ids] == [{"due_soon:D1:2025-07-08T09:00"}] * 2
    changed = pager.ack("due_soon:D1:2025-07-08T09:00", "binh", at("2025-07-08T10:00"))
    assert statuses(changed) == [("an", "acked"), ("binh", "acked")]
    assert {(p.acked_by, p.acked_at) for p in changed} == {("binh", at("2025-07-08T10:00"))}
    assert pager.escalate(at("2025-07-09T09:00")) == [] and pager.open == {}


def test_a_finished_dossier_resolves_its_alerts_held_pages_are_never_sent() -> None:
    pager = Pager(ROSTER, WINDOW)
    pager.admit(due_soon("D1", when="2025-07-08T20:00"), 0, at("2025-07-08T20:00"))
    pager.admit(due_soon("D2", when="2025-07-08T20:00"), 0, at("2025-07-08T20:00"))
    pager.admit(due_soon("D3", when="2025-07-09T07:00"), 0, at("2025-07-09T07:00"))
    assert pager.candidates(at("2025-07-09T07:00"), 0.0) == set()  # released, in the window
    # the held ones ask whether their dossier finished overnight; a page sent as its alert arrives does not
    assert pager.candidates(at("2025-07-09T07:00"), 10.0) == {("79", "D1"), ("79", "D2")}
    assert statuses(pager.resolve_dossiers({"D1"}, at("2025-07-09T07:00"))) == [("an", "resolved"),
                                                                                ("binh", "resolved")]
    messages = pager.messages(at("2025-07-09T07:00"), 20.0)
    assert sorted(p.alert.dossier_id for m in messages for p in m.pages) == ["D2", "D2", "D3", "D3"]


def test_failed_attempts_back_off_then_fail_over_to_the_next_level_and_the_dlq() -> None:
    pager = Pager(ROSTER, WINDOW)
    now = at("2025-07-08T09:00")
    pager.admit(due_soon("D1", officer="an"), 0, now)
    assert pager.messages(now, 90.0) == []
    (m,) = pager.messages(now, 100.0)
    changed, dead = pager.failed(m, "mailto: not accepted (failure)", now, 100.0)
    assert (statuses(changed), dead, changed[0].retry_wall) == ([("an", "queued")], [], 101.0)
    assert pager.messages(now, 100.5) == []
    (m,) = pager.messages(now, 101.0)
    pager.failed(m, "x", now, 101.0)
    (m,) = pager.messages(now, 103.0)  # 2 s after the 2nd failure
    changed, dead = pager.failed(m, "x", now, 103.0)
    assert statuses(changed) == [("an", "failed"), ("chi", "queued")] and [p.recipient for p in dead] == ["an"]
    assert dead[0].attempts == 3 and dead[0].escalated_to == "chi"


def test_restored_pages_carry_on_where_they_were() -> None:
    first = Pager(ROSTER, WINDOW)
    now = at("2025-07-08T09:00")
    first.admit(due_soon("D1", officer="an"), 2, now)
    first.admit(due_soon("D2", officer="an", when="2025-07-08T20:00"), 2, at("2025-07-08T20:00"))
    send_all(first, now, 100.0)
    rows = [p for pages in first.open.values() for p in pages.values()]
    second = Pager(ROSTER, WINDOW)
    second.restore(rows)
    assert statuses(second.escalate(at("2025-07-08T11:00"))) == [("an", "escalated"), ("chi", "queued")]
    assert second.drop({2}) == 2 and second.open == {}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["an", "binh", "x", ""]), st.sampled_from(["J", "F"])), min_size=1,
                max_size=12),
       st.lists(st.booleans(), min_size=1, max_size=40))
def test_every_page_ends_sent_or_failed_over_and_no_page_is_delivered_twice(
        alerts: list[tuple[str, str]], outcomes: list[bool]) -> None:
    pager = Pager(ROSTER, Policy(digest_window=0, attempts=2, retry_first=0.0, escalate_after={}))
    now = at("2025-07-08T09:00")
    admitted = [p for i, (officer, unit) in enumerate(alerts)
                for p in pager.admit(due_soon(f"D{i}", officer=officer, unit=FINANCE if unit == "F" else
                                              "000.00.01.H79"), 0, now)]
    delivered: Counter[tuple[str, str]] = Counter()
    turn = 0
    while pager.open and turn < 200:
        for m in pager.messages(now, float(turn)):
            if outcomes[turn % len(outcomes)]:
                delivered.update(p.key for p in pager.delivered(m, now))
            else:
                pager.failed(m, "down", now, float(turn))
        turn += 1
    assert pager.open == {}
    assert all(n == 1 for n in delivered.values())
    for page in admitted:
        assert page.status in ("sent", "failed"), page
        assert (page.status == "sent") == (page.key in delivered)
