"""The working calendar and the SLA clock (DOMAIN.md section 3), rule by rule."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dossier.calendar import WorkingCalendar, default_calendar, format_instant, load_overrides
from dossier.contract import parse_timestamp
from dossier.sla import classify_finished, due_instant, effective_time, is_timely_apology, open_status

CAL = default_calendar()
HOUR = 3600.0


def t(text: str) -> float:
    return parse_timestamp(text if "+" in text[10:] or text.endswith("Z") else text + "+07:00")


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2024, 2, 8), False),
        (date(2024, 2, 14), False),
        (date(2024, 2, 15), True),  # Tết 2024: 8-14/2
        (date(2025, 1, 27), False),
        (date(2025, 2, 1), False),
        (date(2025, 2, 3), True),  # Tết 2025: 27/1-1/2
        (date(2026, 2, 16), False),
        (date(2026, 2, 20), False),
        (date(2026, 2, 23), True),  # Tết 2026: 16-20/2
        (date(2025, 4, 26), True),
        (date(2025, 5, 2), False),  # swap: Saturday 26/4 worked for Friday 2/5
        (date(2024, 5, 4), True),
        (date(2024, 4, 29), False),  # swap 2024
        (date(2026, 8, 22), True),
        (date(2026, 8, 31), False),  # swap 2026
        (date(2025, 9, 1), False),
        (date(2025, 9, 2), False),  # Quốc khánh and its adjacent day
        (date(2026, 11, 24), False),
        (date(2025, 11, 24), True),  # Ngày Văn hóa Việt Nam from 2026
        (date(2025, 7, 5), False),
        (date(2025, 7, 7), True),  # an ordinary Saturday and Monday
    ],
)
def test_working_days(day, working):
    assert CAL.is_working_day(day) is working


@pytest.mark.parametrize(
    ("accepted", "value", "unit", "due"),
    [
        ("2025-01-24T10:00:00", 3, "working_days", "2025-02-05T10:00:00+07:00"),  # DOMAIN.md's example, Tết
        ("2025-07-07T07:00:00", 1, "working_days", "2025-07-07T17:00:00+07:00"),  # Monday 07:00 + 1 day
        ("2025-07-07T09:00:00", 1, "working_days", "2025-07-08T09:00:00+07:00"),  # Monday 09:00 + 1 day
        ("2025-07-07T17:30:00", 1, "working_days", "2025-07-08T17:00:00+07:00"),  # after 17:00: from 07:00
        ("2025-07-07T06:00:00", 1, "working_days", "2025-07-07T17:00:00+07:00"),  # before 07:00: from 07:00
        ("2025-07-07T12:00:00", 4, "working_hours", "2025-07-08T07:30:00+07:00"),  # lunch: 13:30 + 3.5 h + 0.5 h
        ("2025-07-07T12:00:00", 0.5, "working_days", "2025-07-08T07:30:00+07:00"),  # half a day = 4 hours
        ("2025-07-05T10:00:00", 1, "working_days", "2025-07-07T17:00:00+07:00"),  # Saturday: from Monday
        ("2025-07-07T10:00:00", 0, "working_days", "2025-07-07T10:00:00+07:00"),  # 0 gives the start
        ("2025-07-07T18:00:00", 0, "working_hours", "2025-07-08T07:00:00+07:00"),
        ("2025-07-07T11:30:00", 3.5, "working_hours", "2025-07-07T17:00:00+07:00"),  # 11:30 is working
        ("2025-07-02T10:00:00", 3, "calendar_days", "2025-07-07T07:00:00+07:00"),  # lands on Saturday
        ("2025-07-07T18:00:00", 1, "calendar_days", "2025-07-09T07:00:00+07:00"),  # lands after 17:00
        ("2025-07-07T12:00:00", 2, "calendar_days", "2025-07-09T13:30:00+07:00"),  # lands at lunch
        ("2025-07-07T10:00:00", 7, "calendar_days", "2025-07-14T10:00:00+07:00"),
        ("2025-04-25T10:00:00", 1, "working_days", "2025-04-26T10:00:00+07:00"),  # swapped Saturday works
        ("2026-02-13T16:00:00", 1, "working_days", "2026-02-23T16:00:00+07:00"),  # Tết 2026: 1 h + 7 h
        ("2024-02-07T09:00:00", 2, "working_days", "2024-02-16T09:00:00+07:00"),  # Tết 2024
        ("2025-07-07T03:00:00Z", 1, "working_days", "2025-07-08T10:00:00+07:00"),  # other offsets in, +07:00 out
    ],
)
def test_due_instants(accepted, value, unit, due):
    assert format_instant(due_instant(t(accepted), value, unit, CAL)) == due


def test_fractional_seconds_are_printed_only_when_not_zero():
    assert format_instant(t("2025-07-07T09:00:00.250000")) == "2025-07-07T09:00:00.250000+07:00"
    assert format_instant(t("2025-07-07T09:00:00.000")) == "2025-07-07T09:00:00+07:00"


@pytest.mark.parametrize(("value", "unit"), [(-1, "working_days"), (1.5, "calendar_days"), (1, "fortnights")])
def test_bad_deadlines_are_refused(value, unit):
    with pytest.raises(ValueError):
        due_instant(t("2025-07-07T09:00:00"), value, unit, CAL)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(
    start=st.integers(int(t("2024-01-01T00:00:00")), int(t("2027-01-01T00:00:00"))),
    hours=st.integers(1, 30 * 8),
)
def test_a_due_instant_is_the_earliest_with_that_much_working_time(start, hours):
    due = due_instant(float(start), hours, "working_hours", CAL)
    begin = CAL.next_working_instant(float(start))
    assert CAL.working_time_between(begin, due) == pytest.approx(hours * HOUR)
    assert CAL.working_time_between(begin, due - 1) < hours * HOUR
    assert CAL.next_working_instant(due) == due


def test_override_table_and_unit_hours(tmp_path: Path):
    table = tmp_path / "overrides.csv"
    table.write_text("date,kind,source\n2025-07-07,off,Test decision 1\n2025-07-12,work,Test decision 2\n")
    calendar = WorkingCalendar(load_overrides(table))
    assert not calendar.is_working_day(date(2025, 7, 7))
    assert calendar.is_working_day(date(2025, 7, 12))
    saturday_mornings = WorkingCalendar(extra_sessions={5: ((7 * 3600, 11 * 3600 + 1800),)})
    assert saturday_mornings.next_working_instant(t("2025-07-05T08:00:00")) == t("2025-07-05T08:00:00")
    # ... but not on a Saturday that is a public holiday (Tết 2025)
    assert saturday_mornings.next_working_instant(t("2025-02-01T08:00:00")) == t("2025-02-03T07:00:00")
    assert load_overrides() == ()  # the shipped table: the pinned holidays release needs no override today


# ------------------------------------------------------------------------------------------ pauses


def test_a_completed_pause_moves_the_effective_time_back():
    pauses = [(t("2025-07-08T09:00:00"), t("2025-07-10T09:00:00"))]
    assert effective_time(t("2025-07-11T09:00:00"), pauses) == t("2025-07-09T09:00:00")


def test_a_dossier_waiting_for_the_applicant_is_frozen_at_the_request():
    pauses = [(t("2025-07-01T09:00:00"), t("2025-07-02T09:00:00")), (t("2025-07-08T09:00:00"), None)]
    assert effective_time(t("2025-12-31T09:00:00"), pauses) == t("2025-07-07T09:00:00")


@pytest.mark.parametrize(
    ("end", "requests", "outcome"),
    [
        ("2025-07-09T23:59:59", 0, "early"),  # before the due date
        ("2025-07-10T00:00:00", 0, "on_time"),  # on the due date
        ("2025-07-10T10:00:00", 0, "on_time"),  # at the due instant
        ("2025-07-10T10:00:01", 0, "late"),
        ("2025-07-08T10:00:00", 2, "late"),  # two supplementation requests
    ],
)
def test_finished_outcomes(end, requests, outcome):
    assert classify_finished(t(end), t("2025-07-10T10:00:00"), requests) == outcome


@pytest.mark.parametrize(
    ("at", "pauses", "requests", "status"),
    [
        ("2025-07-08T09:00:00", [], [], "within_due"),
        ("2025-07-09T10:00:00", [], [], "due_soon"),  # exactly one working day left
        ("2025-07-09T09:59:59", [], [], "within_due"),
        ("2025-07-10T10:00:00", [], [], "due_soon"),  # at the due instant: not yet overdue
        ("2025-07-10T10:00:01", [], [], "overdue"),
        # waiting since before the due-soon point, so it keeps its standing however long the wait
        ("2025-08-01T09:00:00", [("2025-07-08T09:00:00", None)], ["2025-07-08T09:00:00"], "within_due"),
        # a 49-hour pause completed: a day after the due instant, the effective time is Wednesday 08:00,
        # 10 working hours before the due instant
        (
            "2025-07-11T09:00:00",
            [("2025-07-07T09:00:00", "2025-07-09T10:00:00")],
            ["2025-07-07T09:00:00"],
            "within_due",
        ),
        (
            "2025-07-08T09:00:00",
            [("2025-07-07T09:00:00", None)],
            ["2025-07-07T09:00:00", "2025-07-07T10:00:00"],
            "overdue",
        ),
    ],
)
def test_open_dossier_status(at, pauses, requests, status):
    pause_instants = [(t(r), None if v is None else t(v)) for r, v in pauses]
    assert open_status(t(at), t("2025-07-10T10:00:00"), pause_instants, [t(r) for r in requests], CAL) == status


@pytest.mark.parametrize(
    ("apology", "timely"),
    [("2025-07-09T10:00:00", True), ("2025-07-09T10:00:01", False), ("2025-07-08T17:00:00", True)],
)
def test_apology_timeliness(apology, timely):
    assert is_timely_apology(t(apology), t("2025-07-10T10:00:00"), CAL) is timely
