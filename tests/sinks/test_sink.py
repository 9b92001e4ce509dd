"""`motcua sink` end to end on the real Kafka and ClickHouse: every topic landed, exactly once after dedup,
by two sinks that split the topics between them (``--topics``) and by one that reads them all.

The stored KPI rows print, through `motcua kpi --source clickhouse`, byte for byte what `motcua kpi
--events` prints from the same events; a second sink re-reading every topic changes no deduplicated count.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import orjson
import pytest
from clickhouse_driver import Client

from audit.clickhouse_source import stored_kpi_rows
from audit.kpi_report import kpi_table
from dossier.calendar import day_number, day_start, default_calendar
from dossier.kpi import SCOPES
from dossier.lifecycle import in_state_machine_order, summarize
from tests.sinks.conftest import Scratch
from tests.sinks.pipeline import (
    SinkProcess,
    clickhouse_env,
    counts,
    distinct_valid_events,
    event_log,
    event_records,
    kpi_records,
    motcua_kpi,
    produce,
    simulated_lines,
    transition_and_alert_records,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

FIRST, LAST = date(2025, 7, 1), date(2025, 8, 1)
END = date(2025, 7, 22)
NOT_JSON = b"{not json"
MISSING_FIELDS = b'{"schema": "dossier-event/1", "event_id": "e1"}'
BEYOND_DATETIME = (  # beyond what the SLA clock (and ClickHouse's DateTime) can hold: refused, kept in the DLQ
    b'{"schema":"dossier-event/1","event_id":"far","dossier_id":"D-FAR","type":"processing",'
    b'"occurred_at":"2150-01-01T08:00:00+07:00","source":"s","province":"01","unit":"U","procedure_code":"P"}'
)


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    return simulated_lines(11, ["01", "04"], FIRST, END, tick_every=3600)


def test_every_topic_lands_once_and_kpis_print_as_the_audit(
    kafka_bootstrap: str, ch: Client, scratch: Scratch, lines: list[bytes], tmp_path: Path
) -> None:
    prefix, database = scratch.prefix, scratch.database
    end_ts = day_start(day_number(END))
    early = [line for line in lines if b'"occurred_at":"2025-07-0' in line]
    provisional = kpi_records(early, "month", FIRST, LAST, day_start(day_number(date(2025, 7, 10))), True)
    final = kpi_records(lines, "month", FIRST, LAST, end_ts, True)
    transitions, alerts = transition_and_alert_records(lines, end_ts)
    archived = produce(kafka_bootstrap, f"{prefix}dossier.events",
                       event_records([*lines, NOT_JSON, MISSING_FIELDS, BEYOND_DATETIME]))
    archived += produce(kafka_bootstrap, f"{prefix}dossier.transitions", transitions)
    # the stale provisional rows come again after the final ones: the greater watermark must still win
    live = produce(kafka_bootstrap, f"{prefix}dossier.kpis", provisional + final + provisional)
    live += produce(kafka_bootstrap, f"{prefix}dossier.alerts", alerts)
    sent = archived + live

    # two sinks of their own groups share the topics (--topics): together they land what one sink lands
    live_sink = SinkProcess(prefix, database, "--topics", "kpis,alerts", "--group", f"{prefix}live",
                            "--batch-records", "5000", "--batch-seconds", "0.3")
    archive_sink = SinkProcess(prefix, database, "--topics", "events,transitions,dlq",
                               "--batch-records", "5000", "--batch-seconds", "0.3")
    try:
        live_sink.wait_for_records(live, timeout=120)
        archive_sink.wait_for_records(archived + 3, timeout=120)  # + the 3 refused records read back from the DLQ
        healths = [live_sink.health(), archive_sink.health()]
    finally:
        assert live_sink.stop() == 0 and archive_sink.stop() == 0
    assert [h["records_total"] for h in healths] == [live, archived + 3]
    assert all(h["status"] == "ok" and h["lag_total"] == 0 for h in healths)
    assert [h["refused_total"] for h in healths] == [0, 3]

    landed = counts(ch, database)
    log = event_log(lines)
    calendar = default_calendar()
    summaries = [
        s for s in (summarize(in_state_machine_order(e.values()), calendar) for e in log.by_dossier.values()) if s
    ]
    assert landed["events"] == distinct_valid_events(lines)
    assert landed["transitions"] == len({key + value for key, value in transitions}) == len(transitions)
    assert landed["alerts"] == len({key for key, _ in alerts})
    assert landed["dossiers"] == len(summaries)
    assert landed["kpis"] == len(final)
    finished = ch.execute(f"SELECT count() FROM {database}.dossiers_current WHERE standing = 'finished'")[0][0]
    assert finished == sum(s.end_ts is not None for s in summaries)

    dlq = ch.execute(f"SELECT stages, reason, payload FROM {database}.dlq_unique ORDER BY origin_offset")
    by_payload = {payload: (stages, reason) for stages, reason, payload in dlq}
    assert set(by_payload) == {NOT_JSON.decode(), MISSING_FIELDS.decode(), BEYOND_DATETIME.decode()}
    assert by_payload[NOT_JSON.decode()][0] == ["validate"]
    assert "dossier_id: missing" in by_payload[MISSING_FIELDS.decode()][1]
    assert by_payload[BEYOND_DATETIME.decode()][0] == ["validate"]  # the one decoder refuses it, as the streams do
    assert "outside the working calendar" in by_payload[BEYOND_DATETIME.decode()][1]

    events_file = tmp_path / "events.jsonl"
    events_file.write_bytes(b"\n".join(lines) + b"\n")
    for scope in ("province", "unit"):
        args = ["--period", "month", "--from", str(FIRST), "--to", str(LAST), "--scope", scope]
        from_file = motcua_kpi([*args, "--events", str(events_file)])
        stored = motcua_kpi([*args, "--source", "clickhouse"], env=clickhouse_env(database))
        assert stored == from_file and stored.count(b"\n") > 0
    table = kpi_table(log, "month", FIRST, LAST, default_calendar())
    for scope in SCOPES:
        assert stored_kpi_rows(ch, database, "month", scope, FIRST, LAST)[0] == table.rows(scope)

    # a second sink of another group reads every topic again: raw rows double, deduplicated ones do not
    # (merges stopped: a background merge could otherwise fold the re-delivered rows before they are counted)
    ch.execute(f"SYSTEM STOP MERGES {database}.events")
    again = SinkProcess(prefix, database, "--group", f"{prefix}again", "--batch-records", "20000")
    try:
        again.wait_for_records(sent + 6, timeout=120)  # it also reads the 3 + 3 DLQ records
    finally:
        assert again.stop() == 0
    relanded = counts(ch, database)
    assert {k: v for k, v in relanded.items() if not k.endswith("_raw")} == {
        k: v for k, v in landed.items() if not k.endswith("_raw")
    }
    assert relanded["events_raw"] > landed["events"]


def test_kpi_rows_keep_the_greatest_watermark_then_the_latest_record(
    kafka_bootstrap: str, ch: Client, scratch: Scratch, lines: list[bytes]
) -> None:
    prefix, database = scratch.prefix, scratch.database
    end_ts = day_start(day_number(END))
    final = kpi_records(lines, "month", FIRST, LAST, end_ts, False)
    key, value = final[0]
    first_take = orjson.loads(value)
    second_take = {**first_take, "received": first_take["received"] + 1, "to_process": first_take["to_process"] + 1}
    older = {**first_take, "received": 0, "watermark": "2025-07-02T00:00:00+07:00"}
    records = [(key, value), (key, orjson.dumps(second_take)), (key, orjson.dumps(older))]
    sent = produce(kafka_bootstrap, f"{prefix}dossier.kpis", records)
    sink = SinkProcess(prefix, database, "--batch-seconds", "0.2")
    try:
        sink.wait_for_records(sent, timeout=60)
    finally:
        assert sink.stop() == 0
    stored = ch.execute(f"SELECT received, to_process, provisional FROM {database}.kpis_latest")
    assert stored == [(second_take["received"], second_take["to_process"], 0)]


def test_a_burst_of_kpi_rows_lands_as_it_ends_with_batch_quiet_seconds(
    kafka_bootstrap: str, ch: Client, scratch: Scratch, lines: list[bytes]
) -> None:
    """Batches of 60 s, but a write once no record came for 0.05 s: each burst is stored within seconds."""
    prefix, database = scratch.prefix, scratch.database
    records = kpi_records(lines, "day", FIRST, LAST, day_start(day_number(END)), False)
    sink = SinkProcess(prefix, database, "--topics", "kpis,alerts", "--batch-seconds", "60",
                       "--batch-quiet-seconds", "0.05")
    try:
        wait_until("the sink to answer", lambda: bool(sink.health()), 60)
        half = len(records) // 2
        for burst, expected in ((records[:half], half), (records[half:], len(records))):
            started = time.monotonic()
            produce(kafka_bootstrap, f"{prefix}dossier.kpis", burst)
            sink.wait_for_records(expected, timeout=20)
            assert time.monotonic() - started < 20  # 60 s without the quiet write
    finally:
        assert sink.stop() == 0
    stored = ch.execute(f"SELECT count() FROM {database}.kpis_latest")[0][0]
    assert stored == len({key for key, _ in records})
