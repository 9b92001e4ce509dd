"""A dossier's timeline (dossier.timeline): the SLA arithmetic it shows is the SLA clock's, step by step."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.eventfile import read_event_lines
from audit.kpi_report import kpi_table
from dossier.calendar import HOUR, default_calendar, format_instant
from dossier.contract import decode_event, parse_timestamp
from dossier.kpi import COUNT_FIELDS
from dossier.periods import make_period, periods_overlapping
from dossier.sla import due_instant
from dossier.timeline import explain, explain_due
from tests.domain.event_factory import event_stream
from tests.domain.spec_helpers import accepted, ev, run_motcua, write_events

CAL = default_calendar()

# DOMAIN.md section 3, "Due date", and the calendar's special days (accepted at, value, unit)
SECTION_3 = [
    ("2025-07-07T07:00:00+07:00", "1", "working_days"),  # Monday 07:00 + 1 day = Monday 17:00
    ("2025-07-07T09:00:00+07:00", "1", "working_days"),  # Monday 09:00 + 1 day = Tuesday 09:00
    ("2025-07-07T18:30:00+07:00", "1", "working_days"),  # after 17:00: from 07:00 the next working day
    ("2025-07-07T05:00:00+07:00", "4", "working_hours"),  # before 07:00: from 07:00
    ("2025-07-07T12:15:00+07:00", "2", "working_hours"),  # 11:30-13:30: from 13:30
    ("2025-07-07T09:00:00+07:00", "0.5", "working_days"),  # half a day is 4 working hours
    ("2025-07-07T12:00:00+07:00", "0", "working_days"),  # 0: the start instant
    ("2025-07-04T16:00:00+07:00", "1", "calendar_days"),  # lands on a Saturday: moved to Monday 07:00
    ("2025-07-07T09:00:00+07:00", "3", "calendar_days"),  # lands in working time: due then
    ("2025-01-24T10:00:00+07:00", "3", "working_days"),  # Tết 2025: 2025-02-05T10:00
    ("2025-04-25T09:00:00+07:00", "1", "working_days"),  # the swapped working Saturday 2025-04-26
    ("2025-04-29T15:00:00+07:00", "2", "working_days"),  # 30/4, 1/5 and the swapped 2/5 off
    ("2025-08-29T16:30:00+07:00", "1", "working_days"),  # National Day 1-2/9
]


def _acceptance(at: str, value: str, unit: str) -> dict[str, Any]:
    number: float = float(value)
    return accepted("D", at, deadline={"value": int(number) if number.is_integer() else number, "unit": unit})


@pytest.mark.parametrize(("at", "value", "unit"), SECTION_3)
def test_the_timelines_due_instant_is_motcua_sla_dues(tmp_path: Path, at: str, value: str, unit: str) -> None:
    path = write_events(tmp_path / "d.jsonl", [_acceptance(at, value, unit)])
    shown = run_motcua("dossier", "timeline", "D", "--events", str(path), "--at", at, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    due = json.loads(shown.stdout)["due"]
    sla = run_motcua("sla", "due", "--accepted-at", at, "--deadline", value, "--unit", unit)
    assert due["due_at"] == sla.stdout.strip()
    if unit != "calendar_days" and float(value):
        assert due["intervals"] and due["intervals"][-1]["end"] == due["due_at"]
        assert sum(i["seconds"] for i in due["intervals"]) == due["working_seconds"] == due["intervals"][-1][
            "total_seconds"]


def test_the_tet_case_shows_the_holidays_skipped(tmp_path: Path) -> None:
    event = decode_event(orjson.dumps(_acceptance("2025-01-24T10:00:00+07:00", "3", "working_days")))
    due = explain_due(event, due_instant(event.occurred_ts, 3, "working_days", CAL), CAL)
    assert due.due_at == "2025-02-05T10:00:00+07:00"
    skipped = {s.day: s.reason for s in due.skipped}
    assert skipped["2025-01-29"] == "public holiday: Lunar New Year" and "Saturday" in skipped["2025-01-25"]
    assert sorted(skipped) == [f"2025-01-{d}" for d in range(25, 32)] + ["2025-02-01", "2025-02-02"]
    assert [i.start[:10] for i in due.intervals] == ["2025-01-24"] * 2 + ["2025-02-03"] * 2 + ["2025-02-04"] * 2 + [
        "2025-02-05"]  # 5 h, then 8 h a day, then the last 3 h
    text = run_motcua("dossier", "timeline", "D", "--events",
                      str(write_events(tmp_path / "t.jsonl", [_acceptance("2025-01-24T10:00:00+07:00", "3",
                                                                           "working_days")])), "--at",
                      "2025-01-24T10:00:00+07:00").stdout
    assert "2025-01-29  public holiday: Lunar New Year" in text and "Due instant: 2025-02-05T10:00:00+07:00" in text


def test_a_swapped_saturday_is_counted_and_named(tmp_path: Path) -> None:
    event = decode_event(orjson.dumps(_acceptance("2025-04-25T09:00:00+07:00", "1", "working_days")))
    due = explain_due(event, due_instant(event.occurred_ts, 1, "working_days", CAL), CAL)
    assert due.due_at == "2025-04-26T09:00:00+07:00" and due.intervals[-1].start.startswith("2025-04-26")


instants = st.datetimes(datetime(2024, 1, 1), datetime(2026, 12, 1)).map(lambda d: d.replace(tzinfo=UTC))
deadlines = st.one_of(
    st.tuples(st.sampled_from([0, 0.5, 1, 1.5, 2, 3, 5, 10, 15, 30]), st.just("working_days")),
    st.tuples(st.integers(0, 60), st.just("working_hours")),
    st.tuples(st.integers(0, 45), st.just("calendar_days")),
)


@settings(max_examples=300, deadline=None)
@given(moment=instants, deadline=deadlines)
def test_the_walked_due_instant_is_the_sla_clocks(moment: datetime, deadline: tuple[float, str]) -> None:
    value, unit = deadline
    at = moment.isoformat()
    event = decode_event(orjson.dumps(accepted("D", at, deadline={"value": value, "unit": unit})))
    due = explain_due(event, 0.0, CAL)
    assert due.due_at == format_instant(due_instant(event.occurred_ts, value, unit, CAL))  # type: ignore[arg-type]
    for interval in due.intervals:
        start, end = parse_timestamp(interval.start), parse_timestamp(interval.end)
        assert CAL.working_seconds(end) - CAL.working_seconds(start) == pytest.approx(interval.seconds, abs=1e-6)
    assert all(not CAL.is_working_day(datetime.fromisoformat(s.day).date()) for s in due.skipped)


def _events(*events: dict[str, Any]) -> list[Any]:
    return [decode_event(orjson.dumps(e)) for e in events]


def test_events_that_count_for_nothing_are_said_so() -> None:
    acc = accepted("D", "2025-07-01T09:00:00+07:00", "2025-07-04T17:00:00+07:00")
    events = _events(
        ev("D", "early-end", "resolved", "2025-07-01T08:00:00+07:00", electronic_result=True),
        acc,
        ev("D", "ok", "supplement_received", "2025-07-01T10:00:00+07:00"),
        accepted("D", "2025-07-01T11:00:00+07:00", "2025-07-09T17:00:00+07:00", event_id="acc2"),
        ev("D", "q1", "supplement_requested", "2025-07-02T09:00:00+07:00"),
        ev("D", "q2", "supplement_requested", "2025-07-02T10:00:00+07:00"),
        ev("D", "r1", "supplement_received", "2025-07-03T09:00:00+07:00"),
        ev("D", "res", "resolved", "2025-07-03T16:00:00+07:00", electronic_result=True),
        ev("D", "ret", "returned", "2025-07-04T09:00:00+07:00", return_channel=2),
        {**acc, "officer": "a repeat"},
    )
    july = [make_period("month", datetime(2025, 7, 1).date())]
    t = explain(events, CAL, parse_timestamp("2025-08-01T00:00:00+07:00"), july)
    notes = {e.event_id: (e.counts, e.note) for e in t.events}
    assert notes["early-end"] == (False, "an end before the acceptance: ignored")
    assert notes["ok"][0] is False and notes["acc2"][0] is False
    assert notes["q2"] == (True, "a second request while one is pending: counts as a request, the pause runs from "
                                 "the first")
    assert notes["ret"] == (True, "after the end: does not move it")
    assert t.duplicates == ["acc"]
    assert [(p.requested, p.seconds) for p in t.pauses] == [("2025-07-02T09:00:00+07:00", 24 * HOUR)]
    assert t.verdict is not None and t.verdict.outcome == "late"
    assert "2 supplementation requests: late, whatever the times" in t.verdict.steps


def test_an_open_dossier_is_judged_at_the_instant_given() -> None:
    events = _events(accepted("D", "2025-07-01T09:00:00+07:00", "2025-07-04T17:00:00+07:00"),
                     ev("D", "q1", "supplement_requested", "2025-07-02T09:00:00+07:00"))
    t = explain(events, CAL, parse_timestamp("2025-07-20T00:00:00+07:00"), [])
    assert t.verdict is not None and (t.verdict.outcome, t.verdict.effective) == ("within_due",
                                                                                 "2025-07-02T09:00:00+07:00")
    assert [timer.kind for timer in t.timers] == []  # waiting for the applicant: no timer until an answer


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32), dossiers=st.integers(1, 25))
def test_the_rows_a_timeline_lists_add_up_to_the_kpi_rows(seed: int, dossiers: int) -> None:
    events = event_stream(seed, dossiers)
    log = read_event_lines(b"\n".join(orjson.dumps(e) for e in events), lambda n, v: None)
    first, last = (datetime(2025, 6, 1).date(), datetime(2025, 10, 1).date())
    periods = periods_overlapping("month", first, last)
    totals: dict[tuple[str, str, str], list[int]] = {}
    for by_id in log.by_dossier.values():
        t = explain(list(by_id.values()), CAL, parse_timestamp("2026-01-01T00:00:00+07:00"), periods)
        for row in t.rows:
            counts = totals.setdefault((row.scope, row.scope_id, row.period_start), [0] * len(COUNT_FIELDS))
            for name in row.counts:
                counts[COUNT_FIELDS.index(name)] += 1
    table = kpi_table(log, "month", first, last, CAL)
    expected = {(r["scope"], r["scope_id"], r["period_start"]): [r[f] for f in COUNT_FIELDS]
                for scope in ("province", "unit", "procedure", "field") for r in table.rows(scope)}
    assert totals == expected
