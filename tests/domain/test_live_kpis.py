"""Live KPI rows equal the batch rows once final, whatever the arrival order (hypothesis)."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.eventfile import read_event_lines
from audit.kpi_report import kpi_table
from dossier import kpi, live_kpis, status_book
from dossier.calendar import default_calendar
from dossier.contract import decode_event, parse_timestamp
from dossier.kpi import OPEN_DUE_SOON, OPEN_OVERDUE, OPEN_WITHIN_DUE, SCOPES, KpiTable, kpi_row, scope_id_of
from dossier.kpi_stage import KpiPartition
from dossier.lifecycle import in_state_machine_order, summarize
from dossier.live_kpis import AHEAD, PACK_AFTER, LiveKpis, row_key_text
from dossier.periods import PERIOD_KINDS
from dossier.sla import open_status
from tests.domain.event_factory import LOCAL, event_stream

CAL = default_calendar()
#: where histories start: mid-year, or just before a new year (a late event from the old year makes the
#: live tables start earlier and count everyone again)
STARTS = st.sampled_from([None, datetime(2024, 12, 10, 8, tzinfo=LOCAL)])


def replay_live(
    events: list[dict[str, Any]], rng: random.Random, pack_after: float = PACK_AFTER
) -> tuple[dict[str, dict[str, Any]], LiveKpis]:
    """Feed events one by one in a shuffled order; return the latest row per key and the live state.

    ``pack_after`` 0: every final period is packed as soon as it is final, so late events unpack them."""
    live = LiveKpis(CAL, pack_after=pack_after)
    by_dossier: dict[str, dict[str, Any]] = {}
    latest: dict[str, dict[str, Any]] = {}
    seen_max = float("-inf")
    for n, raw in enumerate(events):
        event = decode_event(orjson.dumps(raw))
        history = by_dossier.setdefault(event.record.dossier_id, {})
        history.setdefault(event.record.event_id, event)
        live.update(event.record.dossier_id, summarize(in_state_machine_order(history.values()), CAL))
        seen_max = max(seen_max, event.occurred_ts)
        if rng.random() < 0.2:  # the watermark trails the newest event time
            live.advance(seen_max - rng.choice((0, 3600, 86400 * 3)))
        if n % 7 == 0:
            latest.update((row_key_text(r), r) for r in live.changed_rows())
    live.advance(seen_max + 86400 * 100)  # past the end of every period but the year
    latest.update((row_key_text(r), r) for r in live.changed_rows())
    return latest, live


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    dossiers=st.integers(1, 25),
    order=st.integers(0, 2**32),
    start=STARTS,
    pack_after=st.sampled_from([PACK_AFTER, 0.0]),
)
def test_final_live_rows_equal_the_batch_rows(seed, dossiers, order, start, pack_after):
    events = event_stream(seed, dossiers, start)
    rng = random.Random(order)
    shuffled = events[:]
    # a source delivers mostly in order: swap a few neighbours and repeat a few events
    for _ in range(len(shuffled) // 5):
        i = rng.randrange(len(shuffled))
        j = min(len(shuffled) - 1, i + rng.randrange(1, 6))
        shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
    shuffled += rng.sample(events, k=min(3, len(events)))
    latest, live = replay_live(shuffled, rng, pack_after)
    assert_final_rows_equal_the_batch(latest, live, events)


def assert_final_rows_equal_the_batch(
    latest: dict[str, dict[str, Any]], live: LiveKpis, events: list[dict[str, Any]]
) -> None:
    """The final rows among ``latest`` are exactly the batch rows of the live tables' final periods."""
    live_rows = {k: r for k, r in latest.items() if r["to_process"] > 0 and not r["provisional"]}
    log = read_event_lines(b"\n".join(orjson.dumps(e) for e in events), lambda n, v: None)
    batch_rows = {}
    for kind in PERIOD_KINDS:
        periods = live._tables[kind].periods if live._tables else []
        final = [p for p in periods if p.end_ts <= live.watermark]
        if not final:
            continue
        table = kpi_table(log, kind, final[0].start, final[-1].end, CAL)
        for scope in SCOPES:
            for row in table.rows(scope):
                batch_rows[row_key_text(row)] = row
    strip = lambda r: {k: v for k, v in r.items() if k not in ("provisional", "watermark")}  # noqa: E731
    assert {k: strip(r) for k, r in live_rows.items()} == batch_rows


def test_a_watermark_known_before_any_dossier_still_makes_every_period_up_to_it():
    """A rebuild from the worker's table reads the watermark first (its keys sort first): the periods from
    the last acceptance to the watermark must exist all the same, with their carried-over rows (they were
    missing after a SIGKILLed worker's restart, until a later tick that never came)."""
    events = event_stream(3, 15)
    decoded = [decode_event(orjson.dumps(e)) for e in events]
    watermark = max(e.occurred_ts for e in decoded) + 86400 * 40
    live = LiveKpis(CAL)
    live.advance(watermark)
    histories: dict[str, dict[str, Any]] = {}
    for event in decoded:
        histories.setdefault(event.record.dossier_id, {}).setdefault(event.record.event_id, event)
    for dossier_id, history in histories.items():
        live.update(dossier_id, summarize(in_state_machine_order(history.values()), CAL))
    latest = {row_key_text(r): r for r in live.changed_rows()}
    assert max(p.end_ts for p in live._tables["day"].periods) > watermark
    assert_final_rows_equal_the_batch(latest, live, events)


def test_provisional_rows_classify_open_dossiers_at_the_watermark():
    live = LiveKpis(CAL)
    accepted = {
        "schema": "dossier-event/1",
        "event_id": "a",
        "dossier_id": "D",
        "type": "accepted",
        "occurred_at": "2025-07-07T09:00:00+07:00",
        "source": "s",
        "province": "79",
        "unit": "U",
        "procedure_code": "P",
        "online_level": "none",
        "channel": 1,
        "due_at": "2025-07-09T09:00:00+07:00",
    }
    event = decode_event(orjson.dumps(accepted))
    live.update("D", summarize([event], CAL))

    def july_row() -> dict[str, Any]:
        [row] = [
            r
            for r in live.changed_rows()
            if (r["scope"], r["period"], r["period_start"]) == ("province", "month", "2025-07-01")
        ]
        return row

    live.advance(event.occurred_ts)
    row = july_row()
    assert (row["provisional"], row["open_within_due"], row["open_due_soon"]) == (True, 1, 0)
    live.advance(event.occurred_ts + 86400)  # Tuesday 09:00: one working day left
    row = july_row()
    assert (row["provisional"], row["open_due_soon"], row["open_overdue"]) == (True, 1, 0)
    live.advance(event.occurred_ts + 3 * 86400)  # Thursday: overdue
    row = july_row()
    assert (row["provisional"], row["open_overdue"], row["on_time_rate"]) == (True, 1, 0.0)
    live.advance(event.occurred_ts + 40 * 86400)  # July is over: final, classified at its end
    row = july_row()
    assert (row["provisional"], row["open_overdue"], row["watermark"]) == (False, 1, "2025-08-16T09:00:00+07:00")
    live.advance(event.occurred_ts + 41 * 86400)
    assert [r for r in live.changed_rows() if r["period_start"] == "2025-07-01"] == []  # final rows stay put


def expected_provisional_rows(live: LiveKpis, summaries: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every row of every period not yet over, recomputed from scratch: the table's counts of the period,
    with its open dossiers classified at the watermark (DOMAIN.md section 7). Dossiers accepted ``AHEAD``
    or more past the watermark are not counted yet."""
    summaries = {k: s for k, s in summaries.items() if s is not None and s.accepted_ts < live.watermark + AHEAD}
    rows: dict[str, dict[str, Any]] = {}
    for kind in PERIOD_KINDS if live._tables else ():
        for period in live._tables[kind].periods:
            if period.end_ts <= live.watermark:
                continue
            table = KpiTable([period], CAL)
            table.add_all(s for s in summaries.values() if s is not None)
            for scope in SCOPES:
                totals: dict[str, list[int]] = {}
                for cell, by_period in table.cells.items():
                    scope_id = scope_id_of(cell, scope)
                    if scope_id is not None and 0 in by_period:
                        total = totals.setdefault(scope_id, [0] * len(by_period[0]))
                        for k, value in enumerate(by_period[0]):
                            total[k] += value
                for scope_id, counts in totals.items():
                    counts[OPEN_OVERDUE] = counts[OPEN_WITHIN_DUE] = counts[OPEN_DUE_SOON] = 0
                    for s in summaries.values():
                        if s is None or scope_id_of((s.province, s.unit, s.procedure_code, s.procedure_field),
                                                    scope) != scope_id:
                            continue
                        if not (s.accepted_ts < period.end_ts and (s.end_ts is None or s.end_ts >= period.end_ts)):
                            continue
                        at = max(live.watermark, s.accepted_ts)
                        status = open_status(at, s.due_ts, s.pauses, s.request_times, CAL)
                        counts[OPEN_OVERDUE if status == "overdue" else OPEN_WITHIN_DUE] += 1
                        counts[OPEN_DUE_SOON] += status == "due_soon"
                    if counts[2]:  # to_process
                        row = kpi_row(scope, scope_id, period, counts)
                        rows[row_key_text(row)] = row
    return rows


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), dossiers=st.integers(1, 25), order=st.integers(0, 2**32), start=STARTS)
def test_provisional_live_rows_equal_a_recount_at_the_watermark(seed, dossiers, order, start):
    """The incremental classification of open dossiers agrees with classifying every one of them anew."""
    events = event_stream(seed, dossiers, start)
    rng = random.Random(order)
    live = LiveKpis(CAL)
    histories: dict[str, dict[str, Any]] = {}
    summaries: dict[str, Any] = {}
    latest: dict[str, dict[str, Any]] = {}
    newest = float("-inf")
    arrivals = sorted(events, key=lambda e: e["occurred_at"])
    for _ in range(len(arrivals) // 5):  # a few late arrivals
        i = rng.randrange(len(arrivals))
        arrivals.append(arrivals.pop(i))
    if start is not None and rng.random() < 0.5:  # the dossiers begun in the old year all arrive last
        first_seen = {}
        for e in events:
            first_seen.setdefault(e["dossier_id"], e["occurred_at"])
        arrivals.sort(key=lambda e: first_seen[e["dossier_id"]] < "2025")
    for n, raw in enumerate(arrivals):
        event = decode_event(orjson.dumps(raw))
        history = histories.setdefault(event.record.dossier_id, {})
        history.setdefault(event.record.event_id, event)
        summaries[event.record.dossier_id] = summarize(in_state_machine_order(history.values()), CAL)
        live.update(event.record.dossier_id, summaries[event.record.dossier_id])
        newest = max(newest, event.occurred_ts)
        if rng.random() < 0.3:  # the watermark trails the newest event time by up to a few days
            live.advance(newest - rng.choice((0, 600, 3600 * 5, 86400, 86400 * 3)))
        if n % 5 == 0 or n == len(events) - 1:
            latest.update((row_key_text(r), r) for r in live.changed_rows())
            if live.watermark == float("-inf"):
                continue
            provisional = {
                k: {f: v for f, v in r.items() if f not in ("provisional", "watermark")}
                for k, r in latest.items()
                if r["provisional"] and r["to_process"] > 0
            }
            assert provisional == expected_provisional_rows(live, summaries)


def test_a_dossier_accepted_far_ahead_is_held_until_the_watermark_nears_it():
    """An outlier dated 2099 appended every day period up to it and carried every open dossier into each
    (a worker went from 572 MB to 14 GB): it is held aside, and no row changes. The watermark follows the
    other events, as the partitions' does (an event far ahead moves none, tests/domain/test_processing.py)."""
    events = [decode_event(orjson.dumps(e)) for e in event_stream(11, 20)]
    outlier = decode_event(orjson.dumps({
        **event_stream(11, 1)[0], "dossier_id": "X-2099", "event_id": "x", "type": "accepted",
        "occurred_at": "2099-01-05T09:00:00+07:00", "due_at": "2099-01-09T09:00:00+07:00"}))

    def rows(with_outlier: bool) -> tuple[dict[str, dict[str, Any]], LiveKpis]:
        live, histories, latest, newest = LiveKpis(CAL), {}, {}, float("-inf")
        for n, event in enumerate(events):
            if with_outlier and n == 5:
                live.update("X-2099", summarize([outlier], CAL))
            history = histories.setdefault(event.record.dossier_id, {})
            history.setdefault(event.record.event_id, event)
            live.update(event.record.dossier_id, summarize(in_state_machine_order(history.values()), CAL))
            newest = max(newest, event.occurred_ts)
            live.advance(newest - 3600)
            latest.update((row_key_text(r), r) for r in live.changed_rows())
        live.advance(newest + 86400 * 40)
        latest.update((row_key_text(r), r) for r in live.changed_rows())
        return latest, live

    plain, _ = rows(False)
    held, live = rows(True)
    assert held == plain
    assert all(p.end.year < 2099 for table in live._tables.values() for p in table.periods)
    live.advance(parse_timestamp("2099-01-04T09:00:00+07:00"))  # a tick that far: now it counts
    assert any(r["period_start"] == "2099-01-05" and r["received"] == 1 for r in live.changed_rows())


def test_a_tick_a_year_ahead_costs_the_open_dossiers_status_changes_not_days_times_dossiers(monkeypatch):
    """Issue 14: a trusted clock tick far ahead appends every period up to it. The open dossiers are carried
    into them per cell, their status at each period's end followed through its (at most two) changes: the
    status is computed a few times per dossier, not 365 x 4 period kinds times."""
    acceptances: dict[str, dict[str, Any]] = {}
    for event in event_stream(5, 200):  # in event-time order: the first acceptance of each dossier
        if event["type"] == "accepted":
            acceptances.setdefault(event["dossier_id"], event)
    live = LiveKpis(CAL)
    for dossier_id, event in acceptances.items():  # every dossier still open: only its acceptance is known
        live.update(dossier_id, summarize([decode_event(orjson.dumps(event))], CAL))
    newest = max(parse_timestamp(e["occurred_at"]) for e in acceptances.values())
    live.advance(newest)
    latest = {row_key_text(r): r for r in live.changed_rows()}
    calls = 0
    real_open_status = status_book.open_status

    def counted(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        return real_open_status(*args)

    for module in (status_book, kpi):  # wherever the live rows may classify a dossier
        monkeypatch.setattr(module, "open_status", counted)
    live.advance(newest + 366 * 86400)
    latest.update((row_key_text(r), r) for r in live.changed_rows())
    assert len(acceptances) > 100
    assert calls <= 4 * len(acceptances), f"{calls} status computations for {len(acceptances)} open dossiers"
    assert_final_rows_equal_the_batch(latest, live, list(acceptances.values()))


def test_a_day_rollover_works_on_the_dossiers_that_changed_not_on_every_open_one(monkeypatch):
    """Issue 14: at every midnight the new day's carried-over rows and open counts were made by classifying
    every open dossier again (0.2 s per simulated day at 25,000 open dossiers, for 12 provinces; five days off
    in a row made five within seconds). The books of ``dossier.status_book`` keep the tallies per cell: a
    rollover reclassifies only the dossiers whose status changes that day, and reads no other one."""
    acceptances: dict[str, dict[str, Any]] = {}
    for event in event_stream(5, 300):
        if event["type"] == "accepted":
            acceptances.setdefault(event["dossier_id"], event)
    live = LiveKpis(CAL)
    summaries = {}
    for dossier_id, event in acceptances.items():
        summaries[dossier_id] = summarize([decode_event(orjson.dumps(event))], CAL)
        live.update(dossier_id, summaries[dossier_id])
    newest = max(s.accepted_ts for s in summaries.values())
    live.advance(newest)
    latest = {row_key_text(r): r for r in live.changed_rows()}
    days = [newest + 86400 * n for n in range(1, 6)]
    def status(s: Any, at: float) -> str:
        return open_status(at, s.due_ts, s.pauses, s.request_times, CAL)

    changes = sum(  # status changes of the open dossiers from one day to the next, classified one by one
        status(s, a) != status(s, b) for s in summaries.values() for a, b in zip([newest, *days], days, strict=False))
    reads = 0
    real_open_status, real_cell_of = status_book.open_status, live_kpis.cell_of

    def counted(real: Any) -> Any:
        def call(*args: Any) -> Any:
            nonlocal reads
            reads += 1
            return real(*args)
        return call

    for module in (status_book, live_kpis, kpi):
        monkeypatch.setattr(module, "open_status", counted(real_open_status), raising=False)
        monkeypatch.setattr(module, "cell_of", counted(real_cell_of))
    for day in days:  # five midnights, one at a time
        live.advance(day)
        latest.update((row_key_text(r), r) for r in live.changed_rows())
    assert len(acceptances) > 250 and changes < len(acceptances) / 2
    assert reads <= 12 * changes + 50, f"{reads} classifications or cell reads for {changes} status changes"
    assert_final_rows_equal_the_batch(latest, live, list(acceptances.values()))


def test_held_says_what_a_kpi_partition_keeps_summed_over_its_provinces() -> None:
    by_dossier: dict[str, dict[str, Any]] = {}
    for raw in event_stream(3, 30):
        event = decode_event(orjson.dumps(raw))
        by_dossier.setdefault(event.record.dossier_id, {}).setdefault(event.record.event_id, event)
    summaries = [summarize(in_state_machine_order(h.values()), CAL) for h in by_dossier.values()]
    summaries = [s for s in summaries if s is not None]
    assert len({s.province for s in summaries}) == 2
    partition = KpiPartition(0, CAL, 1)
    for s in summaries:
        partition.on_summary(s)
    assert partition.held() == {"summaries": 0, "held_ahead": len(summaries), "rows_emitted": 0}  # no watermark yet
    partition.on_watermark(0, max(s.accepted_ts for s in summaries) + 86400 * 400, 1)
    assert partition.held() == {"summaries": len(summaries), "held_ahead": 0, "rows_emitted": 0}  # counted, kept
    rows = partition.changed_rows()
    assert 0 < partition.held()["rows_emitted"] < len(rows)  # those of final periods are forgotten once sent
