"""Properties every KPI computation must have, whatever the events (hypothesis)."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.eventfile import read_event_lines
from audit.kpi_report import kpi_table
from dossier.calendar import default_calendar
from dossier.kpi import COUNT_FIELDS, SCOPES
from dossier.periods import PERIOD_KINDS
from tests.domain.event_factory import PROVINCE_UNITS, event_stream

CAL = default_calendar()
FIRST, LAST = date(2025, 6, 1), date(2025, 9, 1)
PROPERTY_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _no_invalid(line: int, violations: list[Any]) -> None:
    raise AssertionError(f"line {line}: {violations}")


def rows_of(events: list[dict[str, Any]], period: str = "month", scope: str = "province") -> list[dict[str, Any]]:
    data = b"\n".join(orjson.dumps(e) for e in events)
    log = read_event_lines(data, _no_invalid)
    return kpi_table(log, period, FIRST, LAST, CAL).rows(scope)  # type: ignore[arg-type]


streams = st.builds(event_stream, seed=st.integers(0, 2**32), dossiers=st.integers(1, 30))


@PROPERTY_SETTINGS
@given(events=streams, period=st.sampled_from(PERIOD_KINDS), scope=st.sampled_from(SCOPES))
def test_on_time_and_overdue_rates_add_up_to_one(events, period, scope):
    for row in rows_of(events, period, scope):
        assert row["to_process"] > 0
        assert (
            row["on_time_rate"] + row["overdue_rate"] == 1.0
            or abs(row["on_time_rate"] + row["overdue_rate"] - 1.0) < 1e-12
        )
        assert row["to_process"] == row["received"] + row["carried_over"]
        assert row["to_process"] == row["finished"] + row["open_overdue"] + row["open_within_due"]
        assert row["finished"] == row["finished_early"] + row["finished_on_time"] + row["finished_late"]
        assert row["open_due_soon"] <= row["open_within_due"]


@PROPERTY_SETTINGS
@given(events=streams, seed=st.integers(0, 2**32), period=st.sampled_from(PERIOD_KINDS))
def test_shuffling_and_duplicating_lines_never_changes_a_row(events, seed, period):
    rng = random.Random(seed)
    noisy = events + [dict(e) for e in rng.sample(events, k=min(len(events), 10))]
    rng.shuffle(noisy)
    assert rows_of(noisy, period) == rows_of(events, period)


@PROPERTY_SETTINGS
@given(events=streams, period=st.sampled_from(PERIOD_KINDS))
def test_units_roll_up_to_their_province(events, period):
    province_of_unit = {u: p for p, units in PROVINCE_UNITS.items() for u in units}
    rolled: dict[tuple[str, str], list[int]] = {}
    for row in rows_of(events, period, "unit"):
        key = (province_of_unit[row["scope_id"]], row["period_start"])
        counts = rolled.setdefault(key, [0] * len(COUNT_FIELDS))
        for i, name in enumerate(COUNT_FIELDS):
            counts[i] += row[name]
    provinces = {(r["scope_id"], r["period_start"]): [r[n] for n in COUNT_FIELDS] for r in rows_of(events, period)}
    assert rolled == provinces


@PROPERTY_SETTINGS
@given(events=streams, period=st.sampled_from(("day", "month")), pick=st.integers(0, 10**6))
def test_a_row_depends_only_on_events_before_its_period_end(events, period, pick):
    rows = rows_of(events, period)
    if not rows:
        return
    row = rows[pick % len(rows)]
    [period_of_row] = [
        p
        for p in kpi_table(read_event_lines(b"", _no_invalid), period, FIRST, LAST, CAL).periods
        if p.start.isoformat() == row["period_start"]
    ]
    end = period_of_row.end.isoformat() + "T00:00:00+07:00"
    before_end = [e for e in events if e["occurred_at"] < end]
    same = [
        r
        for r in rows_of(before_end, period)
        if (r["scope_id"], r["period_start"]) == (row["scope_id"], row["period_start"])
    ]
    assert same == [row]
