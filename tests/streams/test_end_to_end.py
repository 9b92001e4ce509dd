"""End to end on the real local Kafka: simulated quarter -> `motcua streams worker` -> KPI rows == `motcua kpi`.

One fixed-seed stream (two provinces, July to September 2025: 20,283 dossiers, 135,624 events) is written
to a file, imported into a fresh events topic, and closed by a clock tick at 2026-01-01 00:00 (+07:00) in
every partition, so that every period the events touch is over. The live rows on the KPI topic must then
equal, field for field, the rows the batch audit computes from the same file, for every scope and period
kind; the transitions must be exactly those the pure core computes over each partition's log, in the same
order; every alert must come once after deduplication by id.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from audit.eventfile import read_event_file
from audit.kpi_report import kpi_table
from dossier.calendar import default_calendar
from dossier.codec import (
    WatermarkRecord,
    decode_dossier,
    decode_summaries_record,
    decode_summary_record,
    encode_summaries_record,
)
from dossier.contract import ClockTick, InvalidRecord, decode_record, parse_timestamp
from dossier.kpi import SCOPES
from dossier.periods import PERIOD_KINDS
from dossier.processing import PartitionProcessor, kpi_view
from producers.kafka import EventProducer
from stack.services import free_port
from streams.config import stage_group_id
from tests.streams.harness import MOTCUA, WorkerProcess, create_topics, read_topic, wait_until, worker_env
from wire.groups import group_lag
from wire.topics import Topics, partials_topic, summaries_topic

pytestmark = pytest.mark.integration

FROM, TO = date(2025, 7, 1), date(2025, 10, 1)
END_TICK = b'{"schema":"clock-tick/1","at":"2026-01-01T00:00:00+07:00"}'
AUDIT_TO = date(2026, 1, 1)  # the final watermark: every period before it is final
BAD_RECORD = b'{"schema":"dossier-event/1","event_id":"bad-1","dossier_id":"X-1","type":"teleported"}'
HMAC_KEY = "streams-e2e-key-not-a-secret"


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("streams-e2e") / "q3.jsonl"
    subprocess.run(
        [
            *MOTCUA,
            "produce",
            "simulate",
            "--seed",
            "1",
            "--provinces",
            "2",
            "--from",
            str(FROM),
            "--to",
            str(TO),
            "--to-file",
            str(path),
            "--no-progress",
        ],
        check=True,
        capture_output=True,
    )
    return path


@pytest.fixture(scope="module")
def expected_rows(events_file: Path) -> dict[str, dict[str, Any]]:
    """What `motcua kpi` prints for every period kind and scope over the file, keyed like the KPI topic."""
    calendar = default_calendar()
    log = read_event_file(events_file, lambda n, v: pytest.fail(f"line {n} invalid: {v}"))
    rows = {}
    for kind in PERIOD_KINDS:
        table = kpi_table(log, kind, FROM, AUDIT_TO, calendar)
        for scope in SCOPES:
            for row in table.rows(scope):
                rows[f"{scope}/{row['scope_id']}/{kind}/{row['period_start']}"] = row
    return rows



def loaded_pipeline(bootstrap: str, name: str, events_file: Path) -> tuple[str, str, Topics]:
    """Fresh topics (prefix ``name.``) holding the events, a bad record and the final ticks; the app id."""
    prefix = f"{name}."
    topics = create_topics(bootstrap, prefix)
    load_events(bootstrap, topics, events_file)
    return prefix, name, topics


def load_events(bootstrap: str, topics: Topics, events_file: Path) -> None:
    env = {**os.environ, "MOTCUA_KAFKA_BOOTSTRAP": bootstrap, "MOTCUA_HMAC_KEY": HMAC_KEY}
    subprocess.run(
        [*MOTCUA, "produce", "import", "--format", "events", str(events_file), "--topic", topics.events],
        env=env,
        check=True,
        capture_output=True,
    )
    with EventProducer(topics.events, bootstrap=bootstrap) as producer:
        producer.send(b"X-1", BAD_RECORD)
        producer.broadcast(END_TICK)


def wait_for_drain(
    bootstrap: str, app_id: str, topics: Topics, workers: list[WorkerProcess], split: bool = False
) -> None:
    """Until the group has committed everything and every row of a period before the final tick is final;
    ``split``: the groups of a ``dossiers`` and a ``kpis`` worker (``MOTCUA_STREAMS_STAGES``)."""
    internal = [summaries_topic(app_id), partials_topic(app_id)]
    groups = ({stage_group_id(app_id, "dossiers"): [topics.events], stage_group_id(app_id, "kpis"): internal}
              if split else {app_id: [topics.events, *internal]})

    def drained() -> bool:
        assert all(w.alive() for w in workers), "a worker died"
        return all(group_lag(bootstrap, group, read) == 0 for group, read in groups.items())

    try:
        wait_until(drained, 240, "consumer lag 0", every=2.0)
    except TimeoutError as error:  # what each worker says of its partitions, for the report
        raise TimeoutError(f"{error}; workers' /health/ consumed: {[worker_health(w) for w in workers]}") from None

    def final() -> bool:
        rows = latest_rows(bootstrap, topics)
        return bool(rows) and not any(
            row["provisional"] for row in rows.values() if row["period_start"] < AUDIT_TO.isoformat()
        )

    wait_until(final, 120, "every row of a period before the final tick final", every=3.0)


def worker_health(worker: WorkerProcess) -> Any:
    """What a worker's /health/ says of its consumption and commits, for a report."""
    url = f"http://127.0.0.1:{worker.env['MOTCUA_STREAMS_WEB_PORT']}/health/"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body = orjson.loads(response.read())
    except urllib.error.HTTPError as error:
        body = orjson.loads(error.read())
    except OSError as error:
        return repr(error)
    return {key: body.get(key) for key in ("status", "consumed", "commit_running_seconds", "read_again")}


def latest_rows(bootstrap: str, topics: Topics) -> dict[str, dict[str, Any]]:
    """The KPI topic as a compacted topic means it: the latest row of every key."""
    latest = {}
    for record in read_topic(bootstrap, topics.kpis):
        assert record.key is not None
        latest[record.key.decode()] = orjson.loads(record.value)
    return latest


def live_rows(bootstrap: str, topics: Topics) -> dict[str, dict[str, Any]]:
    rows = {}
    for key, row in latest_rows(bootstrap, topics).items():
        if row["period_start"] >= AUDIT_TO.isoformat():
            continue  # the periods holding the final watermark are not over: provisional
        assert row.pop("schema") == "kpi-row/1"
        assert row.pop("provisional") is False, key
        row.pop("watermark")  # when the row last changed: once final, a row is not sent again
        if row["to_process"]:
            rows[key] = row
    return rows


def pure_outputs(bootstrap: str, topics: Topics) -> tuple[dict[int, list[str]], Counter[str]]:
    """Transition ids per partition and alert ids, from the pure core run over each partition's log."""
    calendar = default_calendar()
    table: dict[str, bytes] = {}
    transitions: dict[int, list[str]] = {}
    alerts: Counter[str] = Counter()
    by_partition: dict[int, list[Any]] = {}
    for record in read_topic(bootstrap, topics.events):
        by_partition.setdefault(record.partition, []).append(record)
    for partition, records in by_partition.items():
        p = PartitionProcessor(partition, calendar, lambda k: None if k not in table else decode_dossier(table[k]))
        for record in records:
            try:
                decoded = decode_record(record.value)
            except InvalidRecord:
                continue
            if isinstance(decoded, ClockTick):
                p.on_tick(record.offset, parse_timestamp(decoded.at))
            else:
                p.on_event(record.offset, record.value, decoded)
        out = p.take_outputs()
        transitions[partition] = [t["transition_id"] for _, t in out.transitions]
        alerts.update(alert_id for alert_id, _ in out.alerts)
    return transitions, alerts


def dossier_alert_ids(bootstrap: str, topics: Topics) -> list[str]:
    ids = [orjson.loads(r.value)["alert_id"] for r in read_topic(bootstrap, topics.alerts)]
    return [i for i in ids if not i.startswith("unit_overdue_rate:")]


def assert_same_rows(live: dict[str, dict[str, Any]], expected: dict[str, dict[str, Any]]) -> None:
    only_live, only_audit = sorted(live.keys() - expected.keys()), sorted(expected.keys() - live.keys())
    assert not only_live and not only_audit, f"only live: {only_live[:5]}, only audit: {only_audit[:5]}"
    different = [key for key in expected if live[key] != expected[key]]
    if different:
        fields = {
            key: {f: (live[key].get(f), value) for f, value in expected[key].items() if live[key].get(f) != value}
            for key in different[:3]
        }
        raise AssertionError(f"{len(different)} rows differ; (live, audit) of the first: {fields}")


def send_stale_summaries(bootstrap: str, app_id: str, dossiers: int = 50) -> int:
    """What a worker the group has dropped may send late: the first summary of ``dossiers`` dossiers whose
    summary changed since, after the newer ones, to their summaries partition. The number sent."""
    first: dict[str, tuple[int, bytes]] = {}
    changed: set[str] = set()
    for record in read_topic(bootstrap, summaries_topic(app_id)):
        decoded = decode_summaries_record(record.value)
        if isinstance(decoded, WatermarkRecord):
            continue
        for encoded in decoded:
            summary = decode_summary_record(encoded)[0]
            if summary.dossier_id not in first:
                first[summary.dossier_id] = (record.partition, encoded)
            elif kpi_view(decode_summary_record(first[summary.dossier_id][1])[0]) != kpi_view(summary):
                changed.add(summary.dossier_id)
    by_partition: dict[int, list[bytes]] = {}
    for dossier_id in sorted(changed)[:dossiers]:
        partition, encoded = first[dossier_id]
        by_partition.setdefault(partition, []).append(encoded)
    with EventProducer(summaries_topic(app_id), bootstrap=bootstrap) as producer:
        for partition, encoded in by_partition.items():
            producer.send(b"\x00summaries", encode_summaries_record(encoded), partition)
    return sum(map(len, by_partition.values()))


def test_one_worker_kpis_equal_the_audit_and_transitions_are_deterministic(
    kafka_bootstrap: str, run_id: str, events_file: Path, expected_rows: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    prefix, app_id, topics = loaded_pipeline(kafka_bootstrap, f"e2e1_{run_id}", events_file)
    port = free_port()
    worker = WorkerProcess(worker_env(kafka_bootstrap, app_id, prefix, port, tmp_path / "w1"), tmp_path / "w1.log")
    started = time.monotonic()
    worker.start()
    try:
        wait_for_drain(kafka_bootstrap, app_id, topics, [worker])
        elapsed = time.monotonic() - started
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/") as response:
            health = orjson.loads(response.read())
        assert health["status"] == "ok"
        assert all(p["watermark"] == "2026-01-01T00:00:00+07:00" for p in health["partitions"].values())
        dossiers = len(read_event_file(events_file, lambda n, v: None).by_dossier)
        assert health["held"]["dossiers_decoded"] == dossiers  # under MOTCUA_STREAMS_CACHE: every one
        assert health["held"]["summaries"] > 0 and health["held"]["held_ahead"] == 0
        assert send_stale_summaries(kafka_bootstrap, app_id) == 50
        time.sleep(3)  # counted (or not) within a KPI interval (1 s); emitted at the next ones
        wait_for_drain(kafka_bootstrap, app_id, topics, [worker])
    finally:
        assert worker.stop() == 0, "graceful shutdown on SIGTERM"

    live = live_rows(kafka_bootstrap, topics)
    assert_same_rows(live, expected_rows)
    print(f"\n{len(live)} KPI rows equal to the audit's; drained in {elapsed:.0f} s")

    dlq = read_topic(kafka_bootstrap, topics.dlq)
    assert [r.value for r in dlq] == [BAD_RECORD]
    headers = dict(dlq[0].headers)
    assert b"type: unknown event type" in headers["motcua.errors.reason"]
    assert headers["motcua.errors.topic"] == topics.events.encode()

    expected_transitions, expected_alerts = pure_outputs(kafka_bootstrap, topics)
    live_transitions: dict[int, list[str]] = {}
    for record in read_topic(kafka_bootstrap, topics.transitions):
        live_transitions.setdefault(record.partition, []).append(orjson.loads(record.value)["transition_id"])
    assert live_transitions == expected_transitions  # same records, same order, per partition
    assert Counter(dossier_alert_ids(kafka_bootstrap, topics)) == expected_alerts
    assert max(expected_alerts.values()) == 1


def test_one_worker_per_stage_started_together_kpis_equal_the_audit(
    kafka_bootstrap: str, run_id: str, events_file: Path, expected_rows: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """``MOTCUA_STREAMS_STAGES``: a ``dossiers`` worker feeds a ``kpis`` worker through the topics between the
    stages; each is a consumer group of its own, and both create the topics at the same moment."""
    prefix, app_id, topics = loaded_pipeline(kafka_bootstrap, f"e2e3_{run_id}", events_file)
    workers = [
        WorkerProcess(worker_env(kafka_bootstrap, app_id, prefix, free_port(), tmp_path / stage,
                                 MOTCUA_STREAMS_STAGES=stage), tmp_path / f"{stage}.log").start()
        for stage in ("dossiers", "kpis")
    ]
    try:
        wait_for_drain(kafka_bootstrap, app_id, topics, workers, split=True)
    finally:
        assert [worker.stop() for worker in workers] == [0, 0], "graceful shutdown on SIGTERM"
    assert_same_rows(live_rows(kafka_bootstrap, topics), expected_rows)
    assert Counter(dossier_alert_ids(kafka_bootstrap, topics)) == pure_outputs(kafka_bootstrap, topics)[1]


def test_two_workers_one_killed_halfway_still_equal_and_no_alert_lost_or_changed(
    kafka_bootstrap: str, run_id: str, events_file: Path, expected_rows: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    prefix, app_id, topics = loaded_pipeline(kafka_bootstrap, f"e2e2_{run_id}", events_file)
    total = sum(1 for _ in read_topic(kafka_bootstrap, topics.events))

    def worker(name: str) -> WorkerProcess:
        env = worker_env(kafka_bootstrap, app_id, prefix, free_port(), tmp_path / name, MOTCUA_STREAMS_BATCH="500")
        return WorkerProcess(env, tmp_path / f"{name}.log")

    a, b = worker("a").start(), worker("b").start()
    try:
        # halfway: half of the events committed by the group
        wait_until(
            lambda: (lag := group_lag(kafka_bootstrap, app_id, [topics.events])) is not None and lag < total / 2,
            240,
            "half of the events processed",
            every=0.5,
        )
        a.kill()
        time.sleep(2)
        a.start()
        wait_for_drain(kafka_bootstrap, app_id, topics, [a, b])
    finally:
        a.stop()
        b.stop()

    assert_same_rows(live_rows(kafka_bootstrap, topics), expected_rows)
    expected_transitions, expected_alerts = pure_outputs(kafka_bootstrap, topics)
    transitions = read_topic(kafka_bootstrap, topics.transitions)
    live_transition_ids = {orjson.loads(r.value)["transition_id"] for r in transitions}
    assert live_transition_ids == {t for ids in expected_transitions.values() for t in ids}
    alert_ids = dossier_alert_ids(kafka_bootstrap, topics)
    assert set(alert_ids) == set(expected_alerts)  # after deduplication by id: each alert exactly once
    print(f"\n{len(alert_ids)} alert records, {len(set(alert_ids))} after deduplication by id")
