"""The KPI path without Kafka: partition processors -> summaries by province -> live KPIs -> rollup == audit.

Two provinces share procedures and fields, so the rollup has to add provinces' partial rows; records
arrive on three source partitions, each with its own watermark; the final tick closes every period.
"""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from audit.eventfile import read_event_file
from audit.kpi_report import kpi_table
from dossier.calendar import default_calendar
from dossier.contract import ClockTick, parse_timestamp
from dossier.kpi import COUNT_FIELDS, SCOPES
from dossier.periods import PERIOD_KINDS
from streams.codec import decode_dossier, decode_summaries_record, encode_dossier, encode_summary_record
from streams.kpi_partition import KpiPartition
from streams.partition import PartitionProcessor, decode_record
from streams.rollup import Rollup, row_key
from tests.domain.event_factory import event_stream
from wire.partitioner import key_partition

CAL = default_calendar()
SOURCES = 3
END = "2026-01-01T00:00:00+07:00"


class Pipeline:
    """The three stages, wired as the worker wires them, with dicts and lists for topics and tables."""

    def __init__(self) -> None:
        self.table: dict[str, bytes] = {}
        self.processors = [PartitionProcessor(p, CAL, self.load) for p in range(SOURCES)]
        self.kpis = KpiPartition(0, CAL, SOURCES)  # one summaries partition holds both provinces here
        self.rollup = Rollup()
        self.topic: dict[str, dict[str, Any]] = {}  # the compacted KPI topic: latest row per key

    def load(self, dossier_id: str) -> Any:
        value = self.table.get(dossier_id)
        return None if value is None else decode_dossier(value)

    def feed(self, partition: int, offset: int, raw: bytes) -> None:
        processor = self.processors[partition]
        record = decode_record(raw)
        if isinstance(record, ClockTick):
            processor.on_tick(offset, parse_timestamp(record.at))
        else:
            processor.on_event(offset, raw, record)

    def flush(self) -> None:
        for processor in self.processors:
            for dossier_id, stored in processor.take_dirty():
                self.table[dossier_id] = encode_dossier(stored)
            for summary in processor.take_outputs().summaries.values():
                self.kpis.on_summary(decode_summaries_record(encode_summary_record(summary)))  # type: ignore[arg-type]
            if processor.watermark_changed:
                self.kpis.on_watermark(processor.partition, processor.watermark, SOURCES)
                processor.watermark_changed = False

    def emit(self) -> None:
        for province, row in self.kpis.changed_rows():
            self.rollup.on_partial(province, orjson.loads(orjson.dumps(row)))
        for row in self.rollup.changed_rows():
            self.topic[row_key(row)] = row


def test_live_rows_after_the_final_tick_equal_the_audit_rows(tmp_path: Path) -> None:
    events = event_stream(11, 600)
    assert {e["province"] for e in events} == {"01", "79"}
    pipeline = Pipeline()
    offsets = itertools.count()
    for i, event in enumerate(events):
        raw = orjson.dumps(event)
        pipeline.feed(key_partition(event["dossier_id"].encode(), SOURCES), next(offsets), raw)
        if i % 97 == 0:
            pipeline.flush()
        if i % 301 == 0:
            pipeline.emit()
    for partition in range(SOURCES):
        pipeline.feed(partition, next(offsets), orjson.dumps({"schema": "clock-tick/1", "at": END}))
    pipeline.flush()
    pipeline.emit()

    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    log = read_event_file(path, lambda n, v: None)
    first = date.fromisoformat(min(e["occurred_at"] for e in events)[:10])
    expected = {}
    for kind in PERIOD_KINDS:
        table = kpi_table(log, kind, first, date(2026, 1, 1), CAL)
        for scope in SCOPES:
            expected.update({row_key(row): row for row in table.rows(scope)})
    live = {
        key: {k: v for k, v in row.items() if k not in ("provisional", "watermark")}
        for key, row in pipeline.topic.items()
        if row["to_process"] and row["period_start"] < "2026-01-01"
    }
    assert all(not pipeline.topic[key]["provisional"] for key in live)
    assert live == expected
    shared = [k for k in live if k.startswith("procedure/") and len(pipeline.rollup.provinces(k)) == 2]
    assert shared, "some procedure rows add both provinces"


def test_a_reset_drops_a_sources_partials_until_its_rows_come_again() -> None:
    def partial(to_process: int) -> dict[str, Any]:
        row = {"scope": "procedure", "scope_id": "P1", "period": "day", "period_start": "2025-07-01"}
        counts = {**dict.fromkeys(COUNT_FIELDS, 0), "to_process": to_process, "received": to_process}
        return {**row, **counts, "provisional": False, "watermark": "2025-07-02T00:00:00+07:00"}

    rollup = Rollup()
    rollup.on_partial("01", partial(2))
    rollup.on_partial("79", partial(3))
    assert rollup.changed_rows()[0]["to_process"] == 5
    assert rollup.reset(lambda province: province == "01") == [("procedure/P1/day/2025-07-01", "01")]
    assert rollup.changed_rows()[0]["to_process"] == 3
    rollup.reset(lambda province: province == "79")
    deleted = rollup.changed_rows()
    assert deleted[0]["to_process"] == 0 and deleted[0]["on_time_rate"] is None
