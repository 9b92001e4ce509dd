"""`python -m stack` (= `motcua stack`) against real processes: idempotent up, status, clear failures, 3 brokers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_driver import Client
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from stack import services
from wire.settings import DEFAULT_CLICKHOUSE_PORT, DEFAULT_KAFKA_CLUSTER_PORT

pytestmark = pytest.mark.integration


def stack_cmd(*args: str, env: dict[str, str] | None = None, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stack", *args],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}, check=False,
    )


# a second stack's ports sit this far above the main stack's (which MOTCUA_PORT_OFFSET may move too)
BASE_OFFSET = int(os.environ.get("MOTCUA_PORT_OFFSET") or 0)


def _isolated_env(tmp_path: Path, offset: int) -> dict[str, str]:
    """A second stack in its own folder and ports; shares the resolved jars of the main one."""
    return {
        "MOTCUA_HOME": str(tmp_path / "home"),
        "MOTCUA_JARS": str(services.jars_dir()),
        "MOTCUA_PORT_OFFSET": str(BASE_OFFSET + offset),
        **{k: "" for k in os.environ if k.startswith("MOTCUA_") and k.endswith("_PORT")},
    }


@pytest.mark.timeout(60)
def test_up_again_is_a_no_op_and_status_says_so(kafka_bootstrap: str, clickhouse_ready: object) -> None:
    started = time.monotonic()
    result = stack_cmd("up")
    assert result.returncode == 0, result.stderr
    assert "clickhouse: already running" in result.stdout
    assert "kafka: already running" in result.stdout
    assert "started" not in result.stdout
    assert f"bootstrap servers {kafka_bootstrap}" in result.stdout
    assert time.monotonic() - started < 30
    status = stack_cmd("status", "--check")
    assert status.returncode == 0, status.stdout
    assert "clickhouse" in status.stdout and "answering" in status.stdout


@pytest.mark.timeout(120)
def test_clickhouse_runs_jemalloc_background_threads_so_freed_memory_goes_back(ch: Client) -> None:
    """Without them its RSS climbed through the soak while jemalloc held ten times what it had allocated."""
    query = "SELECT value FROM system.asynchronous_metrics WHERE metric = 'jemalloc.background_thread.num_threads'"
    deadline = time.monotonic() + 90  # the server refreshes these metrics once a minute
    while not (rows := ch.execute(query)) and time.monotonic() < deadline:
        time.sleep(1)
    assert rows and rows[0][0] >= 1, f"jemalloc background threads: {rows} (is the stack's MALLOC_CONF set?)"


@pytest.mark.timeout(60)
def test_clickhouse_merges_column_by_column_so_merges_of_wide_tables_stay_small(ch: Client) -> None:
    """18.16's horizontal merge holds a 1 MiB buffer per column per part: 100-400 MB to merge a few small
    parts of the archive tables. The vertical algorithm holds one column at a time (soaks: at most 87-125 MB)."""
    query = "SELECT name, value FROM system.merge_tree_settings WHERE name LIKE 'vertical_merge_algorithm_min_%'"
    assert dict(ch.execute(query)) == {
        "vertical_merge_algorithm_min_rows_to_activate": "1",
        "vertical_merge_algorithm_min_columns_to_activate": "1",
    }


@pytest.mark.timeout(60)
def test_logs_shows_the_kafka_server_log(kafka_bootstrap: str) -> None:
    result = stack_cmd("logs", "kafka", "-n", "5")
    assert result.returncode == 0
    assert "server.log" in result.stdout


@pytest.mark.timeout(60)
def test_taken_port_fails_fast_with_a_clear_message(tmp_path: Path) -> None:
    env = _isolated_env(tmp_path, offset=500)
    native = DEFAULT_CLICKHOUSE_PORT + BASE_OFFSET + 500
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", native))
        squatter.listen()
        started = time.monotonic()
        result = stack_cmd("up", env=env)
    assert result.returncode == 1
    assert time.monotonic() - started < 30
    assert f"127.0.0.1:{native} (clickhouse: ClickHouse native)" in result.stderr
    assert f"pid {os.getpid()}" in result.stderr  # names who holds it
    assert not list((tmp_path / "home" / "run").glob("*.pid"))  # nothing half-started


@pytest.mark.timeout(60)
def test_stale_pid_file_is_reported_and_cleared(tmp_path: Path) -> None:
    env = _isolated_env(tmp_path, offset=600)
    run = tmp_path / "home" / "run"
    run.mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    (run / "kafka.pid").write_text(json.dumps({"pid": dead.pid, "start_ticks": 1}))
    status = stack_cmd("status", env=env)
    assert "stale pid file" in status.stdout
    assert status.returncode == 0
    down = stack_cmd("down", env=env)
    assert down.returncode == 0
    assert "removed stale pid file" in down.stdout
    assert not (run / "kafka.pid").exists()


@pytest.fixture
def cluster_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = _isolated_env(tmp_path, offset=300)
    yield env
    stack_cmd("down", "--wipe", env=env)


@pytest.mark.timeout(400)
def test_three_broker_cluster_survives_a_broker_loss(cluster_env: dict[str, str]) -> None:
    t0 = time.monotonic()
    up = stack_cmd("up", "--brokers", "3", env=cluster_env)
    assert up.returncode == 0, up.stdout + up.stderr
    print(f"cold up --brokers 3: {time.monotonic() - t0:.1f}s")
    ports = [DEFAULT_KAFKA_CLUSTER_PORT + BASE_OFFSET + 300 + i for i in range(3)]
    bootstrap = ",".join(f"127.0.0.1:{p}" for p in ports)
    assert f"bootstrap servers {bootstrap}" in up.stdout
    assert "created dossier.events (6 partitions, rf 3)" in up.stdout

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        assert {b["broker_id"] for b in admin.describe_cluster()["brokers"]} == {1, 2, 3}
        events = admin.describe_topics(["dossier.events"])[0]
        assert all(len(p["replica_nodes"]) == 3 for p in events["partitions"])
    finally:
        admin.close()

    # lose broker 2 the hard way; acks=all still succeeds with min.insync.replicas=2
    pid = json.loads((Path(cluster_env["MOTCUA_HOME"]) / "run" / "kafka-cluster-2.pid").read_text())["pid"]
    os.kill(pid, 9)
    t0 = time.monotonic()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", retries=10)
    for i in range(200):
        producer.send("dossier.events", key=f"d{i % 7}".encode(), value=str(i).encode())
    producer.flush(timeout=120)
    producer.close()
    consumer = KafkaConsumer(
        "dossier.events", bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=30_000,
    )
    got = []
    for record in consumer:
        got.append(int(record.value))
        if len(got) == 200:
            break
    consumer.close()
    got.sort()
    print(f"produce+consume with a broker down: {time.monotonic() - t0:.1f}s")
    assert got == list(range(200))

    status = stack_cmd("status", env=cluster_env)
    assert "kafka-cluster-2    stale pid file" in status.stdout
    t0 = time.monotonic()
    again = stack_cmd("up", "--brokers", "3", env=cluster_env)  # brings the lost broker back
    print(f"up again (restarts the lost broker): {time.monotonic() - t0:.1f}s")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "kafka-cluster-2: started" in again.stdout
    assert "kafka-cluster-1: already running" in again.stdout

    t0 = time.monotonic()
    down = stack_cmd("down", env=cluster_env)
    print(f"down: {time.monotonic() - t0:.1f}s")
    assert down.returncode == 0
    assert all(f"kafka-cluster-{i}: stopped" in down.stdout or f"kafka-cluster-{i}: killed" in down.stdout
               for i in (1, 2, 3))
    assert not list((Path(cluster_env["MOTCUA_HOME"]) / "run").glob("*.pid"))
    assert (Path(cluster_env["MOTCUA_HOME"]) / "kafka-cluster" / "node-1" / "data" / "meta.properties").exists()
