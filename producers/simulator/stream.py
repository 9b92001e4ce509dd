"""The simulated event stream: dossiers of every province, ordered by delivery time, serialised.

Delivery time is the event time, except for a small share of events delivered late (out of order)
and of events sent twice (duplicates, same `event_id`). Events are JSON with a fixed key order, so
the same arguments always give the same bytes.
"""

from __future__ import annotations

import heapq
import operator
import random
from collections.abc import Callable, Iterator
from datetime import date
from typing import NamedTuple

import orjson

from producers.simulator.model import Dossier, ProvinceModel, day_dossiers
from producers.simulator.rates import Rates
from producers.simulator.workclock import DAY, LOCAL_OFFSET, WorkClock, date_of_day, day_number, day_start

SCHEMA = "dossier-event/1"
_at = operator.itemgetter(0)  # a Step's time
_TIME_FIELDS = ("due_at",)


class Emission(NamedTuple):
    """One record to deliver: `key` None marks a clock tick (meant for every partition)."""

    at: int
    key: bytes | None
    value: bytes


_day_prefix: dict[int, str] = {}
_clock_suffix: dict[int, str] = {}


def format_time(ts: int) -> str:
    """Epoch seconds as RFC 3339 in +07:00 (date and time-of-day strings are cached: a hot path)."""
    day, sec = divmod(ts + LOCAL_OFFSET, DAY)
    prefix = _day_prefix.get(day)
    if prefix is None:
        prefix = _day_prefix[day] = date_of_day(day).isoformat() + "T"
    suffix = _clock_suffix.get(sec)
    if suffix is None:
        h, rest = divmod(sec, 3600)
        suffix = _clock_suffix[sec] = f"{h:02d}:{rest // 60:02d}:{rest % 60:02d}+07:00"
    return prefix + suffix


def tick(ts: int) -> bytes:
    return orjson.dumps({"schema": "clock-tick/1", "at": format_time(ts)})


def dossier_records(d: Dossier, since: int, until: int) -> Iterator[tuple[int, bytes]]:
    """The dossier's events in [since, until), as (event time, JSON); ids follow event time."""
    key_fields = d.common
    for k, step in enumerate(sorted(d.steps, key=_at)):
        if not since <= step.at < until:
            continue
        fields = step.fields
        for name in _TIME_FIELDS:
            if name in fields:
                fields = {**fields, name: format_time(fields[name])}
        event = {
            "schema": SCHEMA,
            "event_id": f"sim-{k}",
            "dossier_id": d.dossier_id,
            "type": step.type,
            "occurred_at": format_time(step.at),
            **key_fields,
            **fields,
        }
        yield step.at, orjson.dumps(event)


def simulate(
    seed: int,
    provinces: list[str],
    start: date,
    end: date,
    rates: Rates | None = None,
    communes: int = 10,
    tick_every: int = 0,
    on_day: Callable[[date, int], None] | None = None,
) -> Iterator[Emission]:
    """Every event of [start, end) for `provinces`, in delivery order; `on_day(day, emitted)` after each day.

    With `tick_every` > 0 a clock tick is interleaved at every multiple of that many seconds of
    simulated time after `start`.
    """
    rates = rates or Rates()
    clock = WorkClock()
    models = [ProvinceModel(seed, code, communes, rates) for code in provinces]
    start_ts, end_ts = day_start(day_number(start)), day_start(day_number(end))
    next_tick = start_ts + tick_every if tick_every > 0 else end_ts
    heap: list[tuple[int, int, bytes, bytes]] = []
    seq = 0
    emitted = 0
    for day in range(day_number(start), day_number(end)):
        for model in models:
            delivery = random.Random(f"{seed}:{model.code}:{day}:delivery")
            for dossier in day_dossiers(seed, model, clock, day):
                key = dossier.dossier_id.encode()
                for at, value in dossier_records(dossier, start_ts, end_ts):
                    when = at
                    if delivery.random() < rates.late_arrival:
                        late_by = delivery.randrange(1, 4) * DAY if delivery.random() < 0.1 else 60
                        when += late_by + int(delivery.expovariate(1 / 1800))
                    heapq.heappush(heap, (when, seq, key, value))
                    seq += 1
                    if delivery.random() < rates.duplicate:
                        heapq.heappush(heap, (when + delivery.randrange(1, 600), seq, key, value))
                        seq += 1
        horizon = min(day_start(day + 1), end_ts)
        while heap and heap[0][0] < horizon:
            when, _, key, value = heapq.heappop(heap)
            while next_tick <= when:
                yield Emission(next_tick, None, tick(next_tick))
                next_tick += tick_every
            emitted += 1
            yield Emission(when, key, value)
        while next_tick < horizon:
            yield Emission(next_tick, None, tick(next_tick))
            next_tick += tick_every
        if on_day is not None:
            on_day(date_of_day(day), emitted)
