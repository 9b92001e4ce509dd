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
import pytest

from audit.eventfile import read_event_file
from audit.kpi_report import kpi_table
from dossier.calendar import default_calendar
from dossier.codec import decode_dossier, decode_summary_record, encode_dossier, encode_summary_record
from dossier.contract import ClockTick, decode_record, parse_timestamp
from dossier.kpi import COUNT_FIELDS, SCOPES
from dossier.kpi_stage import KpiPartition
from dossier.lifecycle import DossierSummary
from dossier.live_kpis import Archive
from dossier.periods import PERIOD_KINDS
from dossier.processing import PartitionProcessor
from dossier.rollup import Partial, Rollup, row_key
from tests.domain.event_factory import event_stream
from wire.partitioner import key_partition

CAL = default_calendar()
SOURCES = 3
END = "2026-01-01T00:00:00+07:00"


class MemoryPartials:
    """The partials table: the latest partial row per (row key, province), None once vanished."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Partial | None]] = {}

    def put(self, province: str, row: Partial) -> None:
        self.rows.setdefault(row_key(row), {})[province] = row if row["to_process"] else None

    def drop(self, key: str, province: str) -> None:
        self.rows[key][province] = None

    def of(self, key: str) -> dict[str, Partial]:
        return {province: row for province, row in self.rows.get(key, {}).items() if row is not None}

    def every(self) -> list[tuple[str, str]]:
        return [(key, province) for key, rows in self.rows.items() for province, row in rows.items() if row]

    def row_keys(self) -> list[str]:
        return list(self.rows)

    def vanished(self) -> list[str]:
        return [key for key, rows in self.rows.items() for row in rows.values() if row is None]


class Pipeline:
    """The three stages, wired as the worker wires them, with dicts and lists for topics and tables.

    ``archived``: the live KPIs keep only the unfinished dossiers' summaries and read the others from the
    summaries table, as the worker's do.
    """

    def __init__(self, archived: bool = False, rollup_dies: bool = False) -> None:
        self.archived = archived
        self.rollup_dies = rollup_dies
        self.table: dict[str, bytes] = {}
        self.summaries: dict[str, DossierSummary] = {}  # the summaries table, with its watermarks
        self.watermarks: dict[int, float] = {}
        self.log: list[tuple[str, Any]] = []  # the summaries topic
        self.consumed = 0
        self.processors = [PartitionProcessor(p, CAL, self.load) for p in range(SOURCES)]
        self.archive_reads = 0
        self.kpis = KpiPartition(0, CAL, SOURCES, self.archive if archived else None)  # both provinces here
        self.partials = MemoryPartials()
        self.rollup = Rollup(self.partials)
        self.topic: dict[str, dict[str, Any]] = {}  # the compacted KPI topic: latest row per key

    def archive(self, province: str) -> Archive:
        def get(dossier_id: str) -> DossierSummary | None:
            self.archive_reads += 1
            return self.summaries.get(dossier_id)

        return Archive(get, lambda: [s for s in self.summaries.values() if s.province == province])

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
            out = processor.take_outputs()
            for summary, version in out.summaries.values():
                encoded = encode_summary_record(summary, version)
                self.log.append(("summary", decode_summary_record(encoded)[0]))
            if processor.watermark_changed:
                self.log.append(("watermark", (processor.partition, processor.watermark)))
                processor.watermark_changed = False
        self.consume(len(self.log))

    def consume(self, upto: int) -> None:
        """The KPI stage reads the summaries topic up to offset ``upto``."""
        for kind, value in self.log[self.consumed : upto]:
            if kind == "summary":
                self.kpis.on_summary(value)
                self.summaries[value.dossier_id] = value  # written after the KPIs saw it, as the worker does
            else:
                self.kpis.on_watermark(*value, SOURCES)
                self.watermarks[value[0]] = self.kpis.source_watermarks[value[0]]
        self.consumed = max(self.consumed, upto)

    def restart_kpi_stage(self, committed: int) -> None:
        """The KPI stage's worker dies and a new one rebuilds it from the table (as ``StreamsApp._recover_kpis``),
        resets its partial rows and reads the topic again from the last committed offset: the table may hold
        the effects of records after it."""
        kpis = KpiPartition(0, CAL, SOURCES, self.archive if self.archived else None)
        for source, watermark in self.watermarks.items():
            kpis.on_watermark(source, watermark, SOURCES)
        earliest: dict[str, float] = {}
        for summary in self.summaries.values():
            earliest[summary.province] = min(earliest.get(summary.province, float("inf")), summary.accepted_ts)
        kpis.restore(earliest, lambda: list(self.summaries.values()))
        self.kpis = kpis
        for key, province in self.rollup.reset(lambda province: True):
            self.partials.drop(key, province)
        self.consumed = committed

    def emit(self) -> None:
        for province, row in self.kpis.changed_rows():
            partial = orjson.loads(orjson.dumps(row))
            self.partials.put(province, partial)
            self.rollup.on_partial(partial)
        if self.rollup_dies:  # after storing the partials, before emitting: a new rollup rebuilds from them
            self.rollup = Rollup(self.partials)
            self.rollup.mark_all()
        for row in self.rollup.changed_rows():
            self.topic[row_key(row)] = row


@pytest.mark.parametrize(
    ("archived", "restarts", "rollup_dies"),
    [(False, False, False), (True, False, False), (True, True, False), (False, True, False), (True, True, True)],
    ids=[
        "summaries in memory",
        "finished summaries archived",
        "archived, KPI stage restarted",
        "restarted",
        "archived, restarted, the rollup dies before each emission",
    ],
)
def test_live_rows_after_the_final_tick_equal_the_audit_rows(
    tmp_path: Path, archived: bool, restarts: bool, rollup_dies: bool
) -> None:
    events = event_stream(11, 600)
    assert {e["province"] for e in events} == {"01", "79"}
    pipeline = Pipeline(archived, rollup_dies)
    offsets = itertools.count()
    for i, event in enumerate(events):
        raw = orjson.dumps(event)
        pipeline.feed(key_partition(event["dossier_id"].encode(), SOURCES), next(offsets), raw)
        if i % 97 == 0:
            pipeline.flush()
        if i % 301 == 0:
            pipeline.emit()
        if restarts and i % 701 == 350:  # the last commit some records back: they are read again
            pipeline.restart_kpi_stage(committed=max(0, pipeline.consumed - 1 - i % 13))
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
    if archived:  # finished dossiers left memory, and late events brought some of them back from the archive
        assert pipeline.archive_reads > 0
        in_memory = {d for live in pipeline.kpis._provinces.values() for d in live._summaries}
        assert in_memory == {d for d, s in pipeline.summaries.items() if s.end_ts is None}


def partial(to_process: int, period_start: str = "2025-07-01") -> dict[str, Any]:
    row = {"scope": "procedure", "scope_id": "P1", "period": "day", "period_start": period_start}
    counts = {**dict.fromkeys(COUNT_FIELDS, 0), "to_process": to_process, "received": to_process}
    return {**row, **counts, "provisional": False, "watermark": "2025-07-02T00:00:00+07:00"}


def test_a_rows_deletion_survives_a_rollup_that_dies_before_it_emitted_it() -> None:
    """A row that existed for a while (a day ahead of the watermark, whose dossiers then finished before it):
    its partial drops to 0 and the rollup's worker dies before its next emission. The partial is kept as
    vanished, so the rollup rebuilt from the table still sends the deletion (the KPI topic kept the row)."""
    partials = MemoryPartials()
    rollup = Rollup(partials)
    for row in (partial(2), partial(1, "2025-07-02")):
        partials.put("01", row)
        rollup.on_partial(row)
    assert [row["to_process"] for row in rollup.changed_rows()] == [2, 1]
    gone = partial(0, "2025-07-02")
    partials.put("01", gone)
    rollup.on_partial(gone)  # ... and the worker dies here, before any emission

    rebuilt = Rollup(partials)
    rebuilt.mark_all()
    rows = {row["period_start"]: row["to_process"] for row in rebuilt.changed_rows()}
    assert rows == {"2025-07-01": 2, "2025-07-02": 0}
    assert partials.vanished() == ["procedure/P1/day/2025-07-02"]
    partials.put("01", partial(3, "2025-07-02"))  # the row comes back: no longer vanished
    assert partials.vanished() == []


def test_a_reset_drops_a_sources_partials_until_its_rows_come_again() -> None:
    partials = MemoryPartials()
    rollup = Rollup(partials)
    for province, row in (("01", partial(2)), ("79", partial(3))):
        partials.put(province, row)
        rollup.on_partial(row)
    assert rollup.changed_rows()[0]["to_process"] == 5
    assert rollup.reset(lambda province: province == "01") == [("procedure/P1/day/2025-07-01", "01")]
    partials.drop("procedure/P1/day/2025-07-01", "01")
    assert rollup.changed_rows()[0]["to_process"] == 3
    for key, province in rollup.reset(lambda province: province == "79"):
        partials.drop(key, province)
    deleted = rollup.changed_rows()
    assert deleted[0]["to_process"] == 0 and deleted[0]["on_time_rate"] is None
