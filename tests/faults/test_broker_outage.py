"""A broker SIGKILLed under load and restarted, on the 3-broker cluster (RF 3, min.insync.replicas=2).

Once one `motcua streams worker` and one `motcua sink` run against the cluster on topics of the test's
own, the simulator produces two weeks of two provinces in sped-up real time (`motcua produce simulate
--realtime`, clock ticks interleaved). When the worker has committed its first thousand events, the
broker leading partition 0 of the events topic is SIGKILLed; ten seconds later it is started again by the
stack's own code, while the producer is still sending. After a final clock tick closes every period and
everything drained:

* the producer reported no delivery failure, and the events topic holds exactly the distinct events of the
  same simulation written to a file (the same seed gives the same bytes);
* ClickHouse holds exactly those events after deduplication (``events_unique``);
* the stored KPI rows print exactly as `motcua kpi --events FILE` prints them, for every scope, and
  `motcua audit diff` of the topic against ClickHouse finds no difference (day rows of every unit).

Under 2 minutes here with the cluster started by the fixture (~30 s of it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import date
from pathlib import Path

import pytest
from clickhouse_driver import Client
from kafka import KafkaAdminClient

from dossier.contract import InvalidRecord, decode_event
from dossier.kpi import SCOPES
from producers.kafka import EventProducer
from stack import control, services
from stack import kafka as local_kafka
from stack.procs import pid_file, read_pid_file, start
from tests.sinks.pipeline import SinkProcess, clickhouse_env, distinct_valid_events, fresh_database, motcua_kpi
from tests.streams.harness import MOTCUA, WorkerProcess, read_topic, wait_until, worker_env
from tests.streams.test_end_to_end import AUDIT_TO, END_TICK, wait_for_drain
from wire.groups import group_lag, group_offsets, group_states
from wire.settings import CLUSTER_SIZE
from wire.topics import Topics, ensure_topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

FROM, TO = date(2025, 7, 1), date(2025, 7, 15)
SIMULATION = ["--seed", "5", "--provinces", "2", "--from", str(FROM), "--to", str(TO)]
SPEEDUP = 45_000  # two simulated weeks in about 27 s of wall time
DOWN_FOR = 10.0  # seconds the broker stays dead


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("outage") / "events.jsonl"
    subprocess.run([*MOTCUA, "produce", "simulate", *SIMULATION, "--to-file", str(path), "--no-progress"],
                   check=True, capture_output=True)
    return path


@pytest.fixture
def pipeline(cluster_bootstrap: str, ch: Client, unique_name: str) -> Iterator[tuple[str, Topics, str]]:
    """The five pipeline topics (RF 3) under the test's prefix and a database of its own; removed afterwards."""
    prefix = f"{unique_name}."
    ensure_topics(cluster_bootstrap, CLUSTER_SIZE, Topics.with_prefix(prefix).specs())
    yield prefix, Topics.with_prefix(prefix), fresh_database(ch, unique_name)
    ch.execute(f"DROP DATABASE IF EXISTS {unique_name}")
    with closing(KafkaAdminClient(bootstrap_servers=cluster_bootstrap)) as admin:  # the worker's own topics too
        admin.delete_topics([t for t in admin.list_topics() if t.startswith(unique_name)])


def leader_of(bootstrap: str, topic: str, partition: int) -> services.KafkaNode:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        described = admin.describe_topics([topic])[0]
    finally:
        admin.close()
    leader = next(p["leader_id"] for p in described["partitions"] if p["partition_index"] == partition)
    return next(n for n in services.kafka_nodes(CLUSTER_SIZE) if n.node_id == leader)


def sigkill(node: services.KafkaNode) -> None:
    running, stale = read_pid_file(pid_file(services.run_dir(), node.name))
    assert running is not None, f"{node.name} is not running: {stale}"
    os.kill(running.pid, signal.SIGKILL)
    wait_until(lambda: read_pid_file(pid_file(services.run_dir(), node.name))[0] is None, 30, f"{node.name} gone",
               every=0.1)


def restart(node: services.KafkaNode) -> None:
    """Start the node again as `motcua stack up` does (same command, pid file and log)."""
    svc = next(s for s in control.kafka_services(CLUSTER_SIZE) if s.name == node.name)
    start(svc.name, svc.command(), services.run_dir(), svc.logs[-1], svc.cwd)


def stable_groups(bootstrap: str) -> set[str]:
    """Consumer groups whose members have their partitions (the worker and the sink are past start-up)."""
    return {group for group, state in group_states(bootstrap).items() if state == "Stable"}


def committed(bootstrap: str, group: str, topic: str) -> int:
    """Offsets of ``topic`` the group has committed, summed over partitions (0 while the group is forming)."""
    offsets = group_offsets(bootstrap, group)
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset > 0)


def event_ids(lines: list[bytes]) -> set[tuple[str, str]]:
    ids = set()
    for line in lines:
        try:
            record = decode_event(line).record
        except InvalidRecord:
            continue  # a clock tick
        ids.add((record.dossier_id, record.event_id))
    return ids


def test_broker_sigkilled_under_load_then_restarted_loses_and_doubles_nothing(
    cluster_bootstrap: str, ch: Client, pipeline: tuple[str, Topics, str], events_file: Path, tmp_path: Path
) -> None:
    prefix, topics, database = pipeline
    app_id = f"{prefix}streams"
    client_env = {"MOTCUA_KAFKA_BOOTSTRAP": cluster_bootstrap}
    worker = WorkerProcess(worker_env(cluster_bootstrap, app_id, prefix, services.free_port(), tmp_path / "worker"),
                           tmp_path / "worker.log").start()
    sink = SinkProcess(prefix, database, "--batch-seconds", "0.5", env=client_env)
    producer_log = tmp_path / "producer.log"
    producer: subprocess.Popen[bytes] | None = None
    started = time.monotonic()
    try:
        wait_until(lambda: {app_id, f"{prefix}sink"} <= stable_groups(cluster_bootstrap), 120,
                   "the worker and the sink to join their groups", every=0.5)
        with producer_log.open("wb") as out:
            producer = subprocess.Popen(
                [*MOTCUA, "produce", "simulate", *SIMULATION, "--realtime", "--speedup", str(SPEEDUP),
                 "--tick-every", "3600", "--topic", topics.events, "--no-progress"],
                env={**os.environ, **client_env}, stdout=out, stderr=subprocess.STDOUT,
            )
        wait_until(lambda: committed(cluster_bootstrap, app_id, topics.events) > 1000, 60,
                   "the worker to commit its first thousand events", every=0.5)
        victim = leader_of(cluster_bootstrap, topics.events, 0)
        assert producer.poll() is None, "the producer finished before the broker was killed: not under load"
        sigkill(victim)
        killed_at = time.monotonic()
        time.sleep(DOWN_FOR)
        assert producer.poll() is None, "the producer finished while the broker was down: restart not under load"
        restart(victim)
        wait_until(lambda: local_kafka.cluster_answers(services.kafka_nodes(CLUSTER_SIZE)), 90,
                   f"{victim.name} back in the cluster", every=0.5)
        back_at = time.monotonic()
        assert producer.wait(180) == 0, f"the producer failed:\n{producer_log.read_text()[-3000:]}"
        with EventProducer(topics.events, bootstrap=cluster_bootstrap) as last:
            last.broadcast(END_TICK)  # every period the events touch is over
        wait_for_drain(cluster_bootstrap, app_id, topics, [worker])
        sink_topics = [topics.events, topics.transitions, topics.kpis, topics.alerts, topics.dlq]
        wait_until(lambda: sink.alive_records() > 0 and group_lag(cluster_bootstrap, f"{prefix}sink", sink_topics) == 0,
                   120, "the sink to commit everything", every=1.0)
        drained_at = time.monotonic()
        assert worker.alive(), "the worker exited"
    finally:
        if producer is not None and producer.poll() is None:
            producer.kill()
        worker_status = worker.stop()
        sink_status = sink.stop()
    assert worker_status == 0 and sink_status == 0, (worker_status, sink_status)

    expected = event_ids(events_file.read_bytes().splitlines())
    on_kafka = event_ids([r.value for r in read_topic(cluster_bootstrap, topics.events)])
    assert on_kafka == expected, f"{len(expected - on_kafka)} events missing on Kafka, {len(on_kafka - expected)} extra"
    assert len(expected) == distinct_valid_events(events_file.read_bytes().splitlines())
    stored = ch.execute(f"SELECT count() FROM {database}.events_unique")[0][0]
    raw = ch.execute(f"SELECT count() FROM {database}.events")[0][0]
    assert stored == len(expected), f"{stored} events stored after deduplication, {len(expected)} produced"
    assert not read_topic(cluster_bootstrap, topics.dlq), "records on the DLQ"

    for scope in SCOPES:
        args = ["--period", "month", "--from", str(FROM), "--to", str(AUDIT_TO), "--scope", scope]
        from_file = motcua_kpi([*args, "--events", str(events_file)])
        assert motcua_kpi([*args, "--source", "clickhouse"], env=clickhouse_env(database)) == from_file, scope
        assert from_file.count(b"\n") >= 2
    # live equals replay, on the log: the topic itself (not the file) against what ClickHouse holds
    audit = subprocess.run([*MOTCUA, "audit", "diff", "--topic-prefix", prefix, "--log-until", "end", "--no-progress",
                            "--period", "day", "--from", str(FROM), "--to", str(AUDIT_TO), "--scope", "unit"],
                           env={**os.environ, **client_env, **clickhouse_env(database)}, capture_output=True)
    assert audit.returncode == 0, audit.stdout.decode()[-3000:] + audit.stderr.decode()[-3000:]
    print(f"\n{victim.name} SIGKILLed {killed_at - started:.0f} s in, back {back_at - killed_at:.0f} s later; "
          f"{len(expected):,} events ({raw:,} rows before deduplication) and every KPI row exact; "
          f"drained {drained_at - back_at:.0f} s after the restart, {drained_at - started:.0f} s in all")
