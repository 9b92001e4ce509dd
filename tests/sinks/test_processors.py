"""The per-topic processors and the batch: records in, columns and refusals out (no services)."""

from __future__ import annotations

from datetime import date

import orjson
import pytest
from aiokafka.structs import ConsumerRecord
from clickhouse_driver.errors import NetworkError, ServerException, TypeMismatchError

from dossier.kpi import COUNT_FIELDS
from sinks.batch import Batch
from sinks.dlq import refusal_headers
from sinks.processors import (
    Refusal,
    process_alerts,
    process_dlq,
    process_events,
    process_kpis,
    process_transitions,
)
from sinks.tables import ALERTS, DLQ, EVENTS, KPIS, TRANSITIONS, Table
from sinks.writer import Backoff, is_data_error

TS_MS = 1_751_414_400_123

ACCEPTED = {
    "schema": "dossier-event/1", "event_id": "e1", "dossier_id": "D1", "type": "accepted",
    "occurred_at": "2025-07-02T09:15:00.25+07:00", "source": "s", "province": "01", "unit": "U1",
    "procedure_code": "P1", "online_level": "full", "channel": 2, "due_at": "2025-07-04T09:15:00+07:00",
    "officer": "o1", "extra": "kept in the payload",
}
TRANSITION = {
    "schema": "dossier-transition/1", "transition_id": "D1:finished:2025-07-04T09:00:00+07:00", "dossier_id": "D1",
    "kind": "finished", "at": "2025-07-04T09:00:00+07:00", "province": "79", "unit": "U1", "procedure_code": "P1",
    "procedure_field": "F1", "officer": "o1", "due_at": "2025-07-07T09:00:00+07:00", "outcome": "early",
    "end_type": "resolved",
}
KPI = {
    "schema": "kpi-row/1", "scope": "unit", "scope_id": "U1", "period": "month", "period_start": "2025-07-01",
    **dict.fromkeys(COUNT_FIELDS, 1), "on_time_rate": 0.5, "overdue_rate": None, "provisional": True,
    "watermark": "2025-07-10T12:00:00+07:00",
}
ALERT = {
    "schema": "dossier-alert/1", "alert_id": "unit_overdue_rate:U1:2025-07-09", "kind": "unit_overdue_rate",
    "at": "2025-07-09T10:00:00+07:00", "province": "79", "unit": "U1", "period_start": "2025-07-09",
    "rate": 0.4, "threshold": 0.3, "message": "...",
}


def record(value: bytes | dict[str, object] | None, offset: int = 7, topic: str = "dossier.events",
           headers: list[tuple[str, bytes]] | None = None) -> ConsumerRecord[bytes, bytes]:
    raw = orjson.dumps(value) if isinstance(value, dict) else value
    return ConsumerRecord(topic, 3, offset, TS_MS, 0, b"k", raw, None, 1, len(raw or b""), headers or [])


def row(table: Table, columns: list[list[object]], i: int = 0) -> dict[str, object]:
    assert all(len(c) == len(columns[0]) for c in columns)
    return {name: column[i] for name, column in zip(table.columns, columns, strict=True)}


def test_a_valid_event_becomes_an_archive_row_with_its_bytes_and_kafka_coordinates() -> None:
    m = record(ACCEPTED)
    out = process_events("dossier.events", 3, [m])
    assert out.table is EVENTS and out.refusals == [] and out.sources == [m]
    assert row(EVENTS, out.columns) == {
        "dossier_id": "D1", "event_id": "e1", "type": "accepted", "occurred_at": 1751422500, "occurred_us": 250_000,
        "province": "01", "unit": "U1", "procedure_code": "P1", "procedure_field": "", "status": 2, "officer": "o1",
        "payload": m.value, "_topic": "dossier.events", "_partition": 3, "_offset": 7, "_timestamp": TS_MS // 1000,
    }


def test_invalid_records_are_refused_with_every_reason_and_ticks_skipped() -> None:
    messages = [
        record(b"{not json", 1),
        record({**ACCEPTED, "channel": 9, "occurred_at": "2025-07-02T09:15:00"}, 2),
        record({"schema": "clock-tick/1", "at": "2025-07-02T09:00:00+07:00"}, 3),
        record({"schema": "clock-tick/1", "at": "soon"}, 4),
        record(None, 5),
        record(ACCEPTED, 6),
    ]
    out = process_events("dossier.events", 3, messages)
    assert out.skipped == 1 and [m.offset for m in out.sources] == [6]
    reasons = {r.message.offset: r.reason for r in out.refusals}
    assert set(reasons) == {1, 2, 4, 5} and all(r.stage == "validate" for r in out.refusals)
    assert "not JSON" in reasons[1]
    assert "channel: must be at most 3" in reasons[2] and "occurred_at: datetime without offset" in reasons[2]
    assert "at:" in reasons[4] and "empty record" in reasons[5]


def test_transitions_kpis_alerts_and_their_refusals() -> None:
    out = process_transitions("t", 0, [record(TRANSITION), record({**TRANSITION, "kind": "teleported"}, 8)])
    assert out.table is TRANSITIONS and len(out.sources) == 1 and "kind" in out.refusals[0].reason
    assert row(TRANSITIONS, out.columns)["at"] == 1751594400 and row(TRANSITIONS, out.columns)["outcome"] == "early"

    out = process_kpis("k", 0, [record(KPI), record(None, 8), record({**KPI, "period_start": "2025-07-02"}, 9)])
    assert out.table is KPIS and out.skipped == 1  # a compaction tombstone
    assert out.refusals[0].reason == "period_start: 2025-07-02 does not start a month"
    stored = row(KPIS, out.columns)
    assert stored["period_start"] == date(2025, 7, 1) and stored["provisional"] == 1 and stored["received"] == 1
    assert stored["on_time_rate"] == 0.5 and stored["overdue_rate"] is None
    assert stored["watermark"] == 1752123600
    no_watermark = process_kpis("k", 0, [record({**KPI, "watermark": None})])  # the streams saw no event time yet
    assert no_watermark.refusals == [] and row(KPIS, no_watermark.columns)["watermark"] == 0

    out = process_alerts("a", 0, [record(ALERT), record({**ALERT, "at": None}, 8)])
    alert = row(ALERTS, out.columns)
    assert alert["period_start"] == date(2025, 7, 9) and alert["dossier_id"] == "" and alert["due_at"] is None
    assert len(out.refusals) == 1


def test_dlq_rows_are_keyed_by_where_the_refused_record_was_read() -> None:
    refused = record(b"{not json", offset=41)
    headers = refusal_headers(Refusal(refused, "validate", "not JSON"), at=1751414400)
    from_sink = record(b"{not json", offset=0, topic="dossier.dlq", headers=headers)
    from_ingest = record(b"x", offset=1, topic="dossier.dlq",
                         headers=[("motcua.errors.reason", b"bad"), ("motcua.errors.at", b"2200-01-01T00:00:00Z")])
    out = process_dlq("dossier.dlq", 0, [from_sink, from_ingest])
    assert out.table is DLQ
    first, second = row(DLQ, out.columns, 0), row(DLQ, out.columns, 1)
    assert (first["origin_topic"], first["origin_partition"], first["origin_offset"]) == ("dossier.events", 3, 41)
    assert first["stage"] == "validate" and first["source"] == "sink" and first["refused_at"] == 1751414400
    assert (second["origin_topic"], second["origin_offset"], second["reason"]) == ("dossier.dlq", 1, "bad")
    assert second["refused_at"] == TS_MS // 1000  # 2200 is beyond DateTime: the record's own time instead
    assert dict(headers)["motcua.errors.at"] == b"2025-07-02T07:00:00+07:00"


def test_a_batch_counts_records_and_commits_past_the_last_offset_of_each_partition() -> None:
    batch = Batch()
    chunk = [record(ACCEPTED, 10), record(b"bad", 11), record({"schema": "clock-tick/1", "at": "x"}, 12)]
    batch.add("dossier.events", 3, chunk, process_events("dossier.events", 3, chunk))
    kpis = [record(KPI, 5, topic="dossier.kpis")]
    batch.add("dossier.kpis", 0, kpis, process_kpis("dossier.kpis", 0, kpis))
    assert batch.records == 4 and batch.rows() == 2 and len(batch.refusals) == 2
    assert batch.next_offsets == {("dossier.events", 3): 13, ("dossier.kpis", 0): 6}
    assert {t.table.name for t in batch.non_empty()} == {"events", "kpis"}


@pytest.mark.parametrize(
    ("error", "data"),
    [
        (TypeMismatchError("Column occurred_at: 'I' format requires 0 <= number <= 4294967295"), True),
        (ServerException("Cannot parse", code=6), True),
        (ServerException("Too many partitions for single INSERT block (more than 100)", code=252), True),
        (ServerException("Too many parts (300). Merges are processing significantly slower", code=252), False),
        (ServerException("Table default.events doesn't exist", code=60), False),
        (NetworkError("Code: 210. Connection refused"), False),
        (EOFError("Unexpected EOF while reading bytes"), False),
    ],
)
def test_data_errors_are_told_from_clickhouse_being_unavailable(error: BaseException, data: bool) -> None:
    assert is_data_error(error) is data


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [Backoff(0.2, 1.0).delay(n) for n in range(1, 6)] == [0.2, 0.4, 0.8, 1.0, 1.0]
