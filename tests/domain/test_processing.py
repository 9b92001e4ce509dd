"""The per-partition processor without Kafka: determinism, batching, duplicates, timers, crash recovery."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec
import orjson
import pytest

from dossier.calendar import default_calendar
from dossier.codec import StoredDossier, decode_dossier, encode_dossier
from dossier.contract import ClockTick, InvalidRecord, decode_record, parse_timestamp
from dossier.lifecycle import DossierSummary
from dossier.processing import NO_WATERMARK, PartitionProcessor, kpi_view
from tests.domain.event_factory import event_stream
from tests.domain.spec_helpers import accepted, ev

CAL = default_calendar()


def tick(at: str) -> bytes:
    return orjson.dumps({"schema": "clock-tick/1", "at": at})


def partition_log(seed: int = 7, dossiers: int = 120) -> list[bytes]:
    """One partition's records: a dossier stream with some duplicates, a tick every 40 records, a final tick."""
    events = event_stream(seed, dossiers)
    records: list[bytes] = []
    for i, e in enumerate(events):
        records.append(orjson.dumps(e))
        if i % 17 == 5:
            records.append(orjson.dumps({**e, "officer": "someone-else"}))  # a duplicate: the first one wins
        if i % 40 == 39:
            records.append(tick(e["occurred_at"]))
    records.append(tick("2026-01-01T00:00:00+07:00"))
    return records


@dataclass
class Run:
    """The shell's part, without Kafka: a dict as the table, lists as topics."""

    table: dict[str, bytes] = field(default_factory=dict)
    watermark: float = NO_WATERMARK
    transitions: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    summaries: dict[str, DossierSummary] = field(default_factory=dict)

    def processor(self) -> PartitionProcessor:
        return PartitionProcessor(0, CAL, self.load, cache_size=50)

    def load(self, dossier_id: str) -> StoredDossier | None:
        value = self.table.get(dossier_id)
        return None if value is None else decode_dossier(value)

    def feed(self, p: PartitionProcessor, records: list[bytes], first_offset: int, flush_every: int) -> None:
        for i, raw in enumerate(records):
            offset = first_offset + i
            try:
                record = decode_record(raw)
            except InvalidRecord:
                continue
            if isinstance(record, ClockTick):
                p.on_tick(offset, parse_timestamp(record.at))
            else:
                p.on_event(offset, raw, record)
            if (i + 1) % flush_every == 0:
                self.flush(p)
        self.flush(p)

    def flush(self, p: PartitionProcessor, lose_outputs: bool = False) -> None:
        for dossier_id, stored in p.take_dirty():
            self.table[dossier_id] = encode_dossier(stored)
        self.watermark = p.watermark
        out = p.take_outputs()
        if lose_outputs:
            return
        self.transitions += [record for _, record in out.transitions]
        self.alerts += [record for _, record in out.alerts]
        self.summaries.update((dossier_id, summary) for dossier_id, (summary, _) in out.summaries.items())


def clean_run(records: list[bytes], flush_every: int) -> Run:
    run = Run()
    run.feed(run.processor(), records, 0, flush_every)
    return run


def test_replaying_the_same_records_gives_the_same_records_in_the_same_order_whatever_the_batches() -> None:
    records = partition_log()
    first, second, third = clean_run(records, 1), clean_run(records, 1), clean_run(records, 97)
    assert first.transitions == second.transitions == third.transitions
    assert first.alerts == second.alerts == third.alerts
    assert first.table == third.table
    kinds = {t["kind"] for t in first.transitions}
    assert {"accepted", "finished", "due_soon", "overdue"} <= kinds
    ids = [t["transition_id"] for t in first.transitions]
    assert len(ids) == len(set(ids))  # each transition once
    assert {a["kind"] for a in first.alerts} == {"due_soon", "overdue"}


def test_duplicates_are_ignored_and_counted() -> None:
    records = partition_log()
    run = Run()
    p = run.processor()
    run.feed(p, records, 0, 50)
    assert p.counters.duplicates > 0
    stored = [decode_dossier(v) for v in run.table.values()]
    assert all("someone-else" not in raw.decode() for d in stored for _, raw in d.events)


def test_held_counts_the_decoded_dossiers_down_to_the_cache_size_and_the_dossiers_with_a_timer() -> None:
    due = "2025-07-10T10:00:00+07:00"
    records = [orjson.dumps(accepted(f"T{i}", "2025-07-07T09:00:00+07:00", due_at=due)) for i in range(5)]
    records.append(orjson.dumps(ev("T0", "r0", "resolved", "2025-07-08T09:00:00+07:00")))  # finished: no timer
    records.append(tick("2025-07-07T10:00:00+07:00"))
    run = Run()
    p = PartitionProcessor(0, CAL, run.load, cache_size=3)
    run.feed(p, records, 0, 100)
    assert p.held() == {"dossiers_decoded": 3, "dossiers_timed": 4}  # the cache trimmed at the flush
    run.feed(p, [tick("2025-07-11T00:00:00+07:00")], len(records), 100)  # past due: the overdue timers fired
    assert p.held() == {"dossiers_decoded": 3, "dossiers_timed": 0}


def test_a_dossier_waiting_for_the_applicant_never_becomes_due_soon_or_overdue() -> None:
    records = [
        orjson.dumps(accepted("W", "2025-07-07T09:00:00+07:00", due_at="2025-07-10T10:00:00+07:00")),
        orjson.dumps(ev("W", "r1", "supplement_requested", "2025-07-08T09:00:00+07:00")),
        tick("2025-09-01T00:00:00+07:00"),
    ]
    run = clean_run(records, 1)
    assert [t["kind"] for t in run.transitions] == ["accepted", "paused"]
    records.append(orjson.dumps(ev("W", "a1", "supplement_received", "2025-09-02T09:00:00+07:00")))
    records.append(tick("2025-12-01T00:00:00+07:00"))
    run = clean_run(records, 1)
    kinds = [t["kind"] for t in run.transitions]
    assert kinds == ["accepted", "paused", "resumed", "due_soon", "overdue"]
    overdue = run.transitions[-1]
    # the due instant moved by the pause: 2025-07-08T09:00 to 2025-09-02T09:00
    assert overdue["at"] == "2025-09-04T10:00:00+07:00"
    assert overdue["transition_id"] == "W:overdue:2025-09-04T10:00:00+07:00"


def test_timers_fire_on_ticks_at_the_due_instant_not_on_wall_clock() -> None:
    records = [orjson.dumps(accepted("T", "2025-07-07T09:00:00+07:00", due_at="2025-07-10T10:00:00+07:00"))]
    assert [t["kind"] for t in clean_run(records, 1).transitions] == ["accepted"]
    records.append(tick("2025-07-10T10:00:00+07:00"))  # due soon, not yet overdue at the due instant
    assert [t["kind"] for t in clean_run(records, 1).transitions] == ["accepted", "due_soon"]
    records.append(tick("2025-07-10T10:00:01+07:00"))
    run = clean_run(records, 1)
    assert [t["kind"] for t in run.transitions] == ["accepted", "due_soon", "overdue"]
    assert [a["alert_id"] for a in run.alerts] == [
        "due_soon:T:2025-07-09T10:00:00+07:00",
        "overdue:T:2025-07-10T10:00:00+07:00",
    ]


@pytest.mark.parametrize("crash_at", [150, 333, 480])
def test_recovery_resends_what_a_crash_may_have_lost_and_replay_changes_nothing(crash_at: int) -> None:
    """A crash after the table got records' effects but before their outputs left and offsets committed."""
    records = partition_log()
    clean = clean_run(records, 25)
    committed = crash_at - 60  # the last commit, before the crash

    kept = Run()  # what left the worker before the crash: the outputs of the committed records
    kept.feed(kept.processor(), records[:committed], 0, 25)
    crashed = Run()  # the table also holds the effects of [committed, crash_at); their outputs are lost
    crashed.feed(crashed.processor(), records[:crash_at], 0, 25)
    lost_run = Run(table=dict(crashed.table))

    restarted = PartitionProcessor(0, CAL, lost_run.load, cache_size=50)
    entries = [(k, decode_dossier(v)) for k, v in lost_run.table.items()]
    restarted.recover(entries, crashed.watermark, committed)
    lost_run.flush(restarted)
    lost_run.feed(restarted, records[committed:], committed, 25)
    assert restarted.counters.replayed > 0

    def ids(run: Run) -> set[str]:
        return {t["transition_id"] for t in run.transitions}

    assert ids(kept) | ids(lost_run) == ids(clean)
    assert {a["alert_id"] for a in kept.alerts + lost_run.alerts} == {a["alert_id"] for a in clean.alerts}
    resent = {**kept.summaries, **lost_run.summaries}
    assert {k: kpi_view(s) for k, s in resent.items()} == {k: kpi_view(s) for k, s in clean.summaries.items()}
    assert lost_run.table == clean.table


def test_decode_record_tells_events_ticks_and_invalid_records_apart() -> None:
    assert isinstance(decode_record(tick("2025-07-01T00:00:00+07:00")), ClockTick)
    event = decode_record(orjson.dumps(accepted("D", "2025-07-07T09:00:00+07:00", due_at="2025-07-10T10:00:00+07:00")))
    assert not isinstance(event, ClockTick) and event.record.dossier_id == "D"
    for bad in (b"not json", b'{"schema": "clock-tick/1"}', b'{"schema": "dossier-event/1"}', b"[1]"):
        with pytest.raises(InvalidRecord):
            decode_record(bad)


def test_an_event_far_ahead_moves_no_watermark_and_fires_no_timer_but_a_tick_does() -> None:
    """24 events dated 2099 fired every open dossier's overdue timer once (issue 14, item 3)."""
    records = partition_log()
    body = records[:-1]  # without the final tick
    outlier = orjson.dumps(accepted("X-2099", "2099-01-05T09:00:00+07:00", "2099-01-09T09:00:00+07:00"))
    plain, with_outlier = clean_run(body, 50), clean_run([*body, outlier], 50)
    assert with_outlier.watermark == plain.watermark < parse_timestamp("2026-01-01T00:00:00+07:00")
    assert [t for t in with_outlier.transitions if t["dossier_id"] != "X-2099"] == plain.transitions
    assert "X-2099" in with_outlier.summaries  # it still counts as an event of its dossier
    ticked = clean_run([*body, outlier, records[-1]], 50)
    assert ticked.watermark == parse_timestamp("2026-01-01T00:00:00+07:00")


def test_an_event_outside_the_calendars_years_is_refused() -> None:
    """An event of 1990 crashed the worker at every start (the SLA clock cannot count before 2000)."""
    for at, due in (("1990-01-02T09:00:00+07:00", "2025-01-10T09:00:00+07:00"),
                    ("2025-01-02T09:00:00+07:00", "1999-12-31T09:00:00+07:00"),
                    ("2100-01-02T09:00:00+07:00", "2100-01-10T09:00:00+07:00")):
        with pytest.raises(InvalidRecord, match="outside the working calendar"):
            decode_record(orjson.dumps(accepted("X-1", at, due)))
    assert decode_record(orjson.dumps(accepted("X-1", "2099-01-02T09:00:00+07:00", "2099-01-10T09:00:00+07:00")))


def test_a_stored_dossier_is_deflated_and_a_value_written_before_deflation_still_decodes() -> None:
    events = [(offset, raw) for offset, raw in enumerate(partition_log(dossiers=1)[:6])]
    stored = StoredDossier(3, events, [("due_soon", 1.75e9, 4)])
    encoded = encode_dossier(stored)
    plain = msgspec.msgpack.encode((stored.partition, stored.events, stored.fired))
    assert len(encoded) < len(plain) / 2  # the events are JSON: deflate takes more than half away
    assert decode_dossier(encoded) == stored
    assert decode_dossier(plain) == stored  # a changelog kept from an earlier version
