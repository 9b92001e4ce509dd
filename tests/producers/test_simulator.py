"""The simulator is deterministic, produces only valid events, and lands near published rates."""

from __future__ import annotations

import collections
import itertools
from datetime import date, datetime

import orjson
import pytest

from dossier.contract import decode_event
from producers.simulator.stream import simulate

START, END = date(2025, 7, 1), date(2025, 8, 1)


@pytest.fixture(scope="module")
def month() -> list[bytes]:
    return [e.value for e in simulate(7, ["04", "46"], START, END)]


def test_same_seed_same_bytes_and_other_seed_differs(month: list[bytes]) -> None:
    assert [e.value for e in simulate(7, ["04", "46"], START, END)] == month
    assert [e.value for e in simulate(8, ["04", "46"], START, END)][:50] != month[:50]


def test_a_province_does_not_depend_on_the_others(month: list[bytes]) -> None:
    alone = [e.value for e in simulate(7, ["46"], START, END)]
    assert alone == [v for v in month if b'"province":"46"' in v]


def test_every_event_is_valid_and_within_the_range(month: list[bytes]) -> None:
    for value in month:
        parsed = decode_event(value)
        assert "2025-07-01T00:00:00+07:00" <= parsed.record.occurred_at < "2025-08-01T00:00:00+07:00"


def test_rates_are_near_published_figures(month: list[bytes]) -> None:
    events = [orjson.loads(v) for v in month]
    accepted = {e["dossier_id"]: e for e in events if e["type"] == "accepted"}
    online = sum(e["channel"] == 2 for e in accepted.values()) / len(accepted)
    assert 0.6 <= online <= 0.7
    requests = collections.Counter(e["dossier_id"] for e in events if e["type"] == "supplement_requested")
    assert 0.07 <= len(requests) / len(accepted) <= 0.13
    assert 0.004 <= sum(n > 1 for n in requests.values()) / len(accepted) <= 0.02
    types = collections.Counter(e["type"] for e in events)
    for kind in ("rejected", "withdrawn", "apology_issued", "payment_completed", "rated", "stopped"):
        assert types[kind] > 0, kind


def test_acceptances_happen_in_working_hours(month: list[bytes]) -> None:
    for value in month:
        event = orjson.loads(value)
        if event["type"] == "accepted":
            t = datetime.fromisoformat(event["occurred_at"])
            assert t.weekday() < 5 or t.date() == date(2025, 4, 26)
            minutes = t.hour * 60 + t.minute
            assert 7 * 60 <= minutes <= 11 * 60 + 30 or 13 * 60 + 30 <= minutes <= 17 * 60


def test_some_events_arrive_late_and_some_twice(month: list[bytes]) -> None:
    events = [orjson.loads(v) for v in month]
    times = [e["occurred_at"] for e in events]
    out_of_order = sum(a > b for a, b in itertools.pairwise(times))
    assert 0.002 * len(events) < out_of_order < 0.03 * len(events)
    keys = collections.Counter((e["dossier_id"], e["event_id"]) for e in events)
    duplicates = sum(n - 1 for n in keys.values())
    assert 0.001 * len(events) < duplicates < 0.01 * len(events)


def test_ticks_are_interleaved_at_the_requested_interval() -> None:
    out = list(simulate(1, ["04"], date(2025, 7, 7), date(2025, 7, 8), tick_every=3600))
    ticks = [orjson.loads(e.value) for e in out if e.key is None]
    assert [t["at"][11:16] for t in ticks] == [f"{h:02d}:00" for h in range(1, 24)]
    assert all(t["schema"] == "clock-tick/1" for t in ticks)
