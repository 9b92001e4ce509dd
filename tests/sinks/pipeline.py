"""Helpers of the sink tests: topics of their own, records in every topic's format, a `motcua sink` process.

Records of the streams' topics are built here from the domain core (as the streams build them), so the
sink is tested on real formats before and independently of the stream processors.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import zlib
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import orjson
from aiokafka.structs import ConsumerRecord
from clickhouse_driver import Client

from audit.eventfile import EventLog, read_event_lines
from audit.kpi_report import kpi_table
from dossier import catalog
from dossier.calendar import default_calendar, format_instant
from dossier.contract import ClockTick, InvalidRecord, decode_event, decode_record, parse_timestamp
from dossier.kpi import SCOPES
from dossier.lifecycle import DossierSummary, in_state_machine_order, summarize
from dossier.periods import PeriodKind
from dossier.processing import PartitionProcessor
from dossier.transitions import (
    dossier_alert,
    event_transitions,
    fire_threshold,
    timer_instants,
    transition_record,
)
from producers.kafka import EventProducer
from producers.simulator.stream import simulate
from sinks import open_dossiers
from sinks.batch import Batch
from sinks.migrate import migrate
from sinks.processors import PROCESSORS
from sinks.writer import ClickHouseWriter
from stack.services import free_port
from wire.topics import TopicSpec, ensure_topics

MOTCUA = str(Path(sys.executable).parent / "motcua")
PARTITIONS = {"events": 6, "transitions": 6, "kpis": 6, "alerts": 3, "dlq": 1}
Record = tuple[bytes | None, bytes | None]


def create_topics(bootstrap: str, prefix: str) -> None:
    ensure_topics(
        bootstrap,
        1,
        tuple(
            TopicSpec(f"{prefix}dossier.{role}", n, {"cleanup.policy": "compact"} if role == "kpis" else {})
            for role, n in PARTITIONS.items()
        ),
    )


def produce(bootstrap: str, topic: str, records: Iterable[Record]) -> int:
    """Send keyed records (a None key: round-robin) and wait until Kafka acknowledged them all."""
    n = 0
    with EventProducer(topic, bootstrap=bootstrap, linger_ms=5) as producer:
        partitions = producer.partitions()
        for key, value in records:
            producer.send(key, value, partition=None if key is not None else partitions[n % len(partitions)])
            n += 1
    return n


def simulated_lines(seed: int, provinces: list[str], start: date, end: date, tick_every: int = 0) -> list[bytes]:
    """The simulator's records in delivery order (late and duplicated events included; ticks if asked)."""
    return [e.value for e in simulate(seed, provinces, start, end, tick_every=tick_every)]


_SENT_PROVINCE = re.compile(rb'"dossier_id":"([^"]+)".*"province":"(\d\d)"')


def in_former_provinces(lines: Sequence[bytes]) -> list[bytes]:
    """The records as if sent before the 2025 merger: each dossier moved, by a hash of its id, to one of the
    former provinces its province was formed from (DOMAIN.md section 5), its province code and the province
    part of its units and id changed (``.H79`` -> ``.H74``: every former province has units of its own)."""
    moved = []
    for line in lines:
        found = _SENT_PROVINCE.search(line)
        if found is None:  # a tick, or a record without a dossier
            moved.append(line)
            continue
        dossier_id, code = found.group(1), found.group(2).decode()
        formed_from = sorted(catalog.province(code).formed_from)
        former = formed_from[zlib.crc32(dossier_id) % len(formed_from)].encode()
        moved.append(line.replace(b'"province":"' + code.encode() + b'"', b'"province":"' + former + b'"')
                     .replace(b".H" + code.encode(), b".H" + former))
    return moved


def event_records(lines: Sequence[bytes]) -> list[Record]:
    """Keyed by dossier id (ticks and unreadable records get no key)."""
    records: list[Record] = []
    for line in lines:
        try:
            key: bytes | None = decode_event(line).record.dossier_id.encode()
        except InvalidRecord:
            key = None
        records.append((key, line))
    return records


def distinct_valid_events(lines: Iterable[bytes]) -> int:
    seen = set()
    for line in lines:
        try:
            record = decode_event(line).record
        except InvalidRecord:
            continue
        seen.add((record.dossier_id, record.event_id))
    return len(seen)


def event_log(lines: Sequence[bytes]) -> EventLog:
    return read_event_lines(b"\n".join(lines) + b"\n", lambda *_: None)


def kpi_records(
    lines: Sequence[bytes], period: PeriodKind, first: date, last: date, watermark: float, provisional: bool
) -> list[Record]:
    """``kpi-row/1`` records of every scope for the events, as the streams would emit them."""
    table = kpi_table(event_log(lines), period, first, last, default_calendar())
    records: list[Record] = []
    for scope in SCOPES:
        for row in table.rows(scope):
            record = {"schema": "kpi-row/1", **row, "provisional": provisional, "watermark": format_instant(watermark)}
            key = f"{row['scope']}/{row['scope_id']}/{row['period']}/{row['period_start']}".encode()
            records.append((key, orjson.dumps(record)))
    return records


def transition_and_alert_records(lines: Sequence[bytes], watermark: float) -> tuple[list[Record], list[Record]]:
    """Every dossier's event transitions, and the timers the watermark has fired with their alerts."""
    calendar = default_calendar()
    transitions: list[Record] = []
    alerts: list[Record] = []
    for dossier_id, events in event_log(lines).by_dossier.items():
        summary = summarize(in_state_machine_order(events.values()), calendar)
        if summary is None:
            continue
        fired = [t for t in timer_instants(summary, calendar) if fire_threshold(t) <= watermark]
        for t in sorted(event_transitions(summary, events.values()) | set(fired), key=lambda t: t.sort_key):
            transitions.append((dossier_id.encode(), orjson.dumps(transition_record(summary, t))))
            alert = dossier_alert(summary, t)
            if alert is not None:
                alerts.append((alert["alert_id"].encode(), orjson.dumps(alert)))
    return transitions, alerts


def streamed_transitions(lines: Sequence[bytes]) -> list[Record]:
    """Transition records as the streams emit them, in their order (a late event's transitions come after the
    dossier's end): the streams' own partition processor over the lines, read as one partition."""
    processor = PartitionProcessor(0, default_calendar(), lambda _dossier_id: None)
    records: list[Record] = []
    for offset, raw in enumerate(lines):
        try:
            record = decode_record(raw)
        except InvalidRecord:
            continue
        if isinstance(record, ClockTick):
            processor.on_tick(offset, parse_timestamp(record.at))
        else:
            processor.on_event(offset, raw, record)
        records += [(d.encode(), orjson.dumps(t)) for d, t in processor.take_outputs().transitions]
    return records


def late_after_finished(transitions: Sequence[Record]) -> int:
    """Transitions that move the standing of a dossier already finished earlier in the sequence."""
    finished: set[str] = set()
    late = 0
    for _, value in transitions:
        record = orjson.loads(value or b"{}")
        if record["kind"] == "finished":
            finished.add(record["dossier_id"])
        elif record["kind"] in open_dossiers.STANDING_KINDS and record["dossier_id"] in finished:
            late += 1
    return late


def summaries(lines: Sequence[bytes]) -> dict[str, DossierSummary]:
    """The domain core's summary of every accepted dossier of the lines."""
    calendar = default_calendar()
    found = (summarize(in_state_machine_order(e.values()), calendar) for e in event_log(lines).by_dossier.values())
    return {s.dossier_id: s for s in found if s is not None}


OPEN_COLUMNS = "dossier_id, province, unit, procedure_code, procedure_field, officer, standing, since, due_at"


def open_dossier_rows(client: Client, database: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The open dossiers as ``open_dossiers_current`` gives them, and as ``dossiers_current`` does (every dossier
    not finished): same columns, same order; they must be equal."""
    return (client.execute(f"SELECT {OPEN_COLUMNS} FROM {database}.open_dossiers_current ORDER BY dossier_id"),
            client.execute(f"SELECT {OPEN_COLUMNS} FROM {database}.dossiers_current WHERE standing != 'finished' "
                           "ORDER BY dossier_id"))


def fresh_database(client: Client, name: str) -> str:
    client.execute(f"DROP DATABASE IF EXISTS {name}")
    migrate(client, name)
    return name



def wait_until(what: str, predicate: Callable[[], bool], timeout: float, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


class SinkProcess:
    """`motcua sink` as a user runs it, on the test's topics and database, with its health endpoint."""

    def __init__(self, prefix: str, database: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.log = Path(os.environ.get("TMPDIR", "/tmp")) / f"{prefix}sink-{self.port}.log"
        command = [MOTCUA, "sink", "--topic-prefix", prefix, "--group", f"{prefix}sink", "--database", database,
                   "--health-port", str(self.port), *args]
        self.proc = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=self.log.open("wb"), env={**os.environ, **(env or {})}
        )

    def health(self) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as response:
                return dict(json.load(response))
        except urllib.error.HTTPError as error:  # 503 while ClickHouse is down still carries the JSON
            return dict(json.load(error))
        except OSError:
            return {}

    def wait_for_records(self, count: int, timeout: float) -> None:
        """Until the sink has committed ``count`` records (of every topic together)."""
        wait_until(f"the sink to commit {count} records", lambda: self.alive_records() >= count, timeout)

    def alive_records(self) -> int:
        if self.proc.poll() is not None:
            raise AssertionError(f"the sink exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}")
        return int(self.health().get("records_total", 0))

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        return int(self.proc.returncode)


def motcua_kpi(args: Sequence[str], env: dict[str, str] | None = None) -> bytes:
    """stdout of ``motcua kpi ...`` (which must succeed)."""
    done = subprocess.run([MOTCUA, "kpi", *args], capture_output=True, env={**os.environ, **(env or {})}, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def clickhouse_env(database: str) -> dict[str, str]:
    return {"MOTCUA_CLICKHOUSE_DATABASE": database}


def counts(client: Client, database: str) -> dict[str, int]:
    """Raw rows (re-deliveries included until merged) and deduplicated rows of every table."""
    out = {}
    for table in ("events", "transitions", "kpis", "alerts", "dlq"):
        out[f"{table}_raw"] = client.execute(f"SELECT count() FROM {database}.{table}")[0][0]
        out[table] = client.execute(f"SELECT count() FROM {database}.{table}_" +
                                    ("latest" if table == "kpis" else "unique"))[0][0]
    out["dossiers"] = client.execute(f"SELECT count() FROM {database}.dossiers_current")[0][0]
    return out


def consumer_records(topic: str, records: Sequence[Record]) -> list[ConsumerRecord[bytes, bytes]]:
    """Records as the sink reads them (one partition, consecutive offsets), without a broker."""
    return [
        ConsumerRecord(topic, 0, offset, 1_751_414_400_000, 0, key, value, None, 0, len(value or b""), [])
        for offset, (key, value) in enumerate(records)
    ]


def batch_of(records_by_role: dict[str, Sequence[Record]]) -> Batch:
    batch = Batch()
    for role, records in records_by_role.items():
        messages = consumer_records(f"dossier.{role}", records)
        batch.add(f"dossier.{role}", 0, messages, PROCESSORS[role](f"dossier.{role}", 0, messages))
    return batch


def land(settings: dict[str, Any], database: str, batch: Batch) -> None:
    """Through the sink's own writer, with no Kafka in between; every row must be accepted."""
    writer = ClickHouseWriter(settings, database)
    try:
        assert writer.write(batch) == []
    finally:
        writer.close()


def land_in_chdb(executor: Any, database: str, batch: Batch) -> None:
    """The same rows into chDB (JSONEachRow: instants as epoch seconds, dates and bytes as text), then the
    writer's ``open_dossiers`` snapshot, its external table being a table of the database."""
    for rows in batch.non_empty():
        dicts = [
            {name: _json_value(column[i]) for name, column in zip(rows.table.columns, rows.columns, strict=True)}
            for i in range(len(rows))
        ]
        executor.insert_json_rows(f"{database}.{rows.table.name}", dicts)
    transitions = batch.tables.get("transitions")
    if transitions is not None:
        table = f"{database}.{open_dossiers.TOUCHED}"
        executor.execute(f"CREATE TABLE {table} ({', '.join(f'{n} {t}' for n, t in open_dossiers.TOUCHED_STRUCTURE)})"
                         " ENGINE = Memory")
        executor.insert_json_rows(table, [{"dossier_id": d, "accepted": a}
                                          for d, a in open_dossiers.touched(transitions.columns)])
        executor.execute(open_dossiers.SNAPSHOT.format(db=database, touched=table))
        executor.execute(f"DROP TABLE {table}")


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, date):
        return value.isoformat()
    return value
