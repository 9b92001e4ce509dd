"""The pure transitions core: timer instants agree with the SLA clock, event transitions, records, ids."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from dossier.calendar import default_calendar
from dossier.contract import decode_event, parse_timestamp
from dossier.lifecycle import DossierSummary, in_state_machine_order, summarize
from dossier.transitions import (
    Transition,
    due_soon_at,
    due_timers,
    event_transitions,
    new_event_transitions,
    overdue_at,
    status_at,
    timer_instants,
    transition_record,
    unit_rate_alert,
)
from tests.domain.event_factory import dossier_history
from tests.domain.spec_helpers import accepted, ev

CAL = default_calendar()


def summary_of(events: list[dict[str, Any]]) -> DossierSummary:
    parsed = [decode_event(orjson.dumps(e)) for e in events]
    s = summarize(in_state_machine_order(parsed), CAL)
    assert s is not None
    return s


def ts(text: str) -> float:
    return parse_timestamp(text)


def test_due_soon_is_the_last_working_day_and_overdue_is_after_due() -> None:
    # due Thursday 10:00: due soon from Wednesday 10:00 (8 working hours before), overdue after Thursday 10:00
    s = summary_of([accepted("D", "2025-07-07T09:00:00+07:00", due_at="2025-07-10T10:00:00+07:00")])
    assert due_soon_at(s, CAL) == ts("2025-07-09T10:00:00+07:00")
    assert overdue_at(s) == ts("2025-07-10T10:00:00+07:00")
    assert status_at(s, ts("2025-07-09T09:59:59+07:00"), CAL) == "within_due"
    assert status_at(s, ts("2025-07-09T10:00:00+07:00"), CAL) == "due_soon"
    assert status_at(s, ts("2025-07-10T10:00:00+07:00"), CAL) == "due_soon"
    assert status_at(s, ts("2025-07-10T10:00:01+07:00"), CAL) == "overdue"


def test_a_pause_moves_the_timers_by_its_length_and_a_pending_one_stops_them() -> None:
    base = [accepted("D", "2025-07-07T09:00:00+07:00", due_at="2025-07-10T10:00:00+07:00")]
    waiting = [*base, ev("D", "r1", "supplement_requested", "2025-07-08T09:00:00+07:00")]
    s = summary_of(waiting)
    assert due_soon_at(s, CAL) is None and overdue_at(s) is None  # frozen while the applicant is awaited
    answered = [*waiting, ev("D", "a1", "supplement_received", "2025-07-11T09:00:00+07:00")]
    s = summary_of(answered)
    pause = 3 * 86400
    assert overdue_at(s) == ts("2025-07-10T10:00:00+07:00") + pause
    due_soon = due_soon_at(s, CAL)
    assert due_soon is not None and status_at(s, due_soon, CAL) == "due_soon"


def test_a_second_request_makes_the_dossier_overdue_at_once() -> None:
    events = [
        accepted("D", "2025-07-07T09:00:00+07:00", due_at="2025-07-31T10:00:00+07:00"),
        ev("D", "r1", "supplement_requested", "2025-07-08T09:00:00+07:00"),
        ev("D", "a1", "supplement_received", "2025-07-09T09:00:00+07:00"),
        ev("D", "r2", "supplement_requested", "2025-07-10T09:00:00+07:00"),
    ]
    s = summary_of(events)
    assert overdue_at(s) == ts("2025-07-10T09:00:00+07:00")
    assert due_soon_at(s, CAL) is None  # never due soon: straight from within due to overdue
    assert [t.kind for t in timer_instants(s, CAL)] == ["overdue"]


def test_timers_of_a_finished_dossier_stop_at_its_end() -> None:
    events = [
        accepted("D", "2025-07-07T09:00:00+07:00", due_at="2025-07-10T10:00:00+07:00"),
        ev("D", "end", "resolved", "2025-07-09T15:00:00+07:00"),
    ]
    assert [t.kind for t in timer_instants(summary_of(events), CAL)] == ["due_soon"]


def test_due_timers_fire_once_each_from_their_threshold() -> None:
    s = summary_of([accepted("D", "2025-07-07T09:00:00+07:00", due_at="2025-07-10T10:00:00+07:00")])
    due = ts("2025-07-10T10:00:00+07:00")
    fired, pending = due_timers(s, due, set(), CAL)
    assert [t.kind for t in fired] == ["due_soon"]
    assert pending is not None and due < pending < due + 1e-3  # just after the due instant
    fired2, _ = due_timers(s, due + 1, set(fired), CAL)
    assert [t.kind for t in fired2] == ["overdue"]
    assert due_timers(s, due + 1, set(fired) | set(fired2), CAL) == ([], None)


@pytest.mark.parametrize("seed", range(4))
def test_timer_instants_agree_with_the_sla_clock(seed: int) -> None:
    """At each timer instant the SLA clock (open_status) says what the timer says, and not before."""
    from datetime import datetime, timedelta, timezone

    rng = random.Random(seed)
    start = datetime(2025, 6, 1, 8, tzinfo=timezone(timedelta(hours=7)))
    checked = 0
    for i in range(300):
        events = dossier_history(rng, f"D{i}", start)
        parsed = [decode_event(orjson.dumps(e)) for e in events]
        s = summarize(in_state_machine_order(parsed), CAL)
        if s is None:
            continue
        for t in timer_instants(s, CAL):
            checked += 1
            if t.kind == "due_soon":
                assert status_at(s, t.at, CAL) == "due_soon"
                if t.at - 1 > s.accepted_ts:
                    assert status_at(s, t.at - 1, CAL) == "within_due"
            elif s.due_ts >= s.accepted_ts:
                assert status_at(s, t.at, CAL) != "overdue"
                if s.end_ts is None or s.end_ts > t.at + 1:
                    assert status_at(s, t.at + 1, CAL) == "overdue"
        soon, overdue = due_soon_at(s, CAL), overdue_at(s)
        if soon is not None and overdue is not None:
            assert soon <= overdue
    assert checked > 100


def test_event_transitions_are_set_differences_in_event_time_order() -> None:
    first = [accepted("D", "2025-07-07T09:00:00+07:00", due_at="2025-07-10T10:00:00+07:00")]
    more = [
        *first,
        ev("D", "r1", "supplement_requested", "2025-07-08T09:00:00+07:00"),
        ev("D", "a1", "supplement_received", "2025-07-08T11:00:00+07:00"),
        ev("D", "ap", "apology_issued", "2025-07-08T12:00:00+07:00", due_at="2025-07-15T10:00:00+07:00"),
        ev("D", "end", "resolved", "2025-07-09T15:00:00+07:00"),
    ]

    def transitions(events: list[dict[str, Any]]) -> set[Transition]:
        parsed = [decode_event(orjson.dumps(e)) for e in events]
        return event_transitions(summarize(in_state_machine_order(parsed), CAL), parsed)

    new = new_event_transitions(transitions(first), transitions(more))
    assert [t.kind for t in new] == ["paused", "resumed", "apology_issued", "finished"]
    assert new_event_transitions(transitions(more), transitions(more)) == []


def test_transition_record_has_the_documented_fields_and_id() -> None:
    s = summary_of(
        [
            accepted("D1", "2025-07-02T09:00:00+07:00", due_at="2025-07-07T09:00:00+07:00", officer="o1"),
            ev("D1", "end", "resolved", "2025-07-04T09:00:00+07:00"),
        ]
    )
    record = transition_record(s, Transition("finished", ts("2025-07-04T09:00:00+07:00")))
    assert record["transition_id"] == "D1:finished:2025-07-04T09:00:00+07:00"
    assert record["outcome"] == "early" and record["end_type"] == "resolved"
    assert record["officer"] == "o1" and record["due_at"] == "2025-07-07T09:00:00+07:00"


def test_unit_rate_alert_only_for_the_current_day_above_the_threshold() -> None:
    row = {
        "scope": "unit",
        "scope_id": "U1",
        "period": "day",
        "period_start": "2025-07-02",
        "provisional": True,
        "watermark": "2025-07-02T12:00:00+07:00",
        "to_process": 10,
        "finished_late": 1,
        "open_overdue": 2,
        "overdue_rate": 0.3,
    }
    alert = unit_rate_alert("79", row, 0.25, 5)
    assert alert is not None and alert["alert_id"] == "unit_overdue_rate:U1:2025-07-02"
    assert unit_rate_alert("79", {**row, "provisional": False}, 0.25, 5) is None
    assert unit_rate_alert("79", {**row, "overdue_rate": 0.2}, 0.25, 5) is None
    assert unit_rate_alert("79", {**row, "to_process": 4}, 0.25, 5) is None
