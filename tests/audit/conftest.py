"""A log of record of the tests' own: a simulated stream appended to ``<prefix>dossier.events`` as if live.

Each record's timestamp is its append time: the greatest event time sent so far (what a live source's
clock would say), so that a range ending at a record timestamp means "what the log held at that instant".
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from clickhouse_driver import Client
from kafka import KafkaAdminClient, KafkaProducer

from dossier.calendar import day_number, day_start
from dossier.contract import parse_timestamp
from tests.sinks.pipeline import batch_of, event_records, fresh_database, kpi_records, land, simulated_lines
from tests.streams.harness import create_topics
from wire.topics import Topics

MOTCUA = str(Path(sys.executable).parent / "motcua")
FROM, TO = date(2025, 6, 16), date(2025, 7, 12)
BAD = b'{"schema":"dossier-event/1","event_id":"bad","dossier_id":"000.00.01.H04-250701-9999","type":"teleported"}'


@dataclass(frozen=True)
class Log:
    prefix: str
    topics: Topics
    lines: list[bytes]  # in append order
    appended_ms: list[int]  # each line's record timestamp
    file: Path  # the same lines, as an event file

    def file_until(self, tmp_path: Path, until_ms: int) -> Path:
        """The lines appended before ``until_ms``, as an event file."""
        path = tmp_path / f"until-{until_ms}.jsonl"
        path.write_bytes(b"".join(line + b"\n" for line, ms in zip(self.lines, self.appended_ms, strict=True)
                                  if ms < until_ms))
        return path


def _event_ms(line: bytes) -> int | None:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    at = record.get("occurred_at") or record.get("at") if isinstance(record, dict) else None
    return int(parse_timestamp(at) * 1000) if isinstance(at, str) else None


@pytest.fixture(scope="session")
def log(kafka_bootstrap: str, run_id: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Log]:
    lines = simulated_lines(11, ["04", "11"], FROM, TO, tick_every=6 * 3600)
    lines.insert(len(lines) // 2, BAD)
    lines.insert(len(lines) // 3, b"{not json")
    appended, latest = [], 0
    for line in lines:
        latest = max(latest, _event_ms(line) or latest)
        appended.append(latest)
    name = f"t_audit_{run_id}"
    topics = create_topics(kafka_bootstrap, f"{name}.")
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)
    partitions = sorted(producer.partitions_for(topics.events))
    for i, (line, ms) in enumerate(zip(lines, appended, strict=True)):
        try:
            key = orjson.loads(line).get("dossier_id")
        except (orjson.JSONDecodeError, AttributeError):
            key = None
        if key is None and b"clock-tick" in line:
            for partition in partitions:  # a tick goes into every partition
                producer.send(topics.events, value=line, partition=partition, timestamp_ms=ms)
        else:
            producer.send(topics.events, key=key.encode() if key else None, value=line, timestamp_ms=ms,
                          partition=None if key else partitions[i % len(partitions)])
    producer.flush()
    producer.close()
    file = tmp_path_factory.mktemp("audit-log") / "events.jsonl"
    file.write_bytes(b"".join(line + b"\n" for line in lines))
    yield Log(f"{name}.", topics, lines, appended, file)
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.delete_topics([t for t in admin.list_topics() if t.startswith(name)])
    finally:
        admin.close()


@pytest.fixture
def stored(log: Log, clickhouse_ready: dict[str, Any], ch: Client, unique_name: str) -> Iterator[str]:
    """A database holding the log's events and its final June rows of every scope, as the pipeline stores them."""
    fresh_database(ch, unique_name)
    final = day_start(day_number(date(2025, 8, 1)))
    batch = batch_of({"events": event_records(log.lines),
                      "kpis": kpi_records(log.lines, "month", date(2025, 6, 1), date(2025, 7, 1), final, False)})
    land({**clickhouse_ready, "database": unique_name}, unique_name, batch)
    yield unique_name
    ch.execute(f"DROP DATABASE IF EXISTS {unique_name}")


def alter_row(ch: Client, database: str, scope: str, scope_id: str, month: str, **changes: int) -> None:
    """A newer version of a stored month row (a greater watermark: kpis_latest takes it), counts changed."""
    columns = [c for c, *_ in ch.execute(f"DESCRIBE TABLE {database}.kpis") if not c.startswith("_")]
    [row] = ch.execute(f"SELECT {', '.join(columns)} FROM {database}.kpis WHERE scope = %(scope)s "
                       "AND scope_id = %(id)s AND period = 'month' AND period_start = %(month)s "
                       "ORDER BY _version DESC LIMIT 1", {"scope": scope, "id": scope_id, "month": month})
    values = dict(zip(columns, row, strict=True))
    values.update({k: values[k] + v for k, v in changes.items()})
    values["watermark"] = values["watermark"].replace(year=2026)
    ch.execute(f"INSERT INTO {database}.kpis ({', '.join(columns)}, _topic, _partition, _offset, _timestamp) VALUES",
               [{**values, "_topic": "altered", "_partition": 0, "_offset": 0, "_timestamp": values["watermark"]}])


def motcua(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run([MOTCUA, *args], capture_output=True, env={**os.environ, **(env or {})}, timeout=300)
    if check:
        assert done.returncode == 0, done.stderr.decode()
    return done
