"""Live equals replay, on the log: after a streams worker and a sink were SIGKILLed and restarted mid-run,
`motcua audit diff` of the log against what they stored in ClickHouse finds nothing; once a stored row is
altered, it names that row, the measure and the dossiers.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from clickhouse_driver import Client
from kafka import KafkaConsumer, TopicPartition

from stack.services import free_port
from tests.audit.conftest import Log, alter_row, motcua
from tests.sinks.pipeline import SinkProcess, fresh_database
from tests.streams.harness import WorkerProcess, wait_until, worker_env
from wire.groups import group_lag
from wire.topics import partials_topic, summaries_topic

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

MONTHS = ["--period", "month", "--from", "2025-06-01", "--to", "2025-08-01"]
QUIET_SECONDS = 12.0  # longer than the longest KPI emission gap (10 s) and the rollup's interval


@pytest.fixture
def database(ch: Client, unique_name: str) -> Iterator[str]:
    yield fresh_database(ch, unique_name)
    ch.execute(f"DROP DATABASE IF EXISTS {unique_name}")


def _committed_some(bootstrap: str, group: str, topics: list[str], total: int) -> bool:
    lag = group_lag(bootstrap, group, topics)
    return lag is not None and lag < total


def test_after_a_sigkilled_worker_and_sink_the_log_and_clickhouse_agree(
    log: Log, kafka_bootstrap: str, ch: Client, database: str, tmp_path: Path
) -> None:
    app_id = f"{log.prefix}streams"
    port = free_port()
    env = worker_env(kafka_bootstrap, app_id, log.prefix, port, tmp_path / "worker", MOTCUA_STREAMS_BATCH="200")
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    sink = SinkProcess(log.prefix, database, "--batch-seconds", "0.3", "--batch-records", "500",
                       env={"MOTCUA_KAFKA_BOOTSTRAP": kafka_bootstrap})
    events, internal = [log.topics.events], [summaries_topic(app_id), partials_topic(app_id)]
    sink_topics = [log.topics.events, log.topics.transitions, log.topics.kpis, log.topics.alerts, log.topics.dlq]
    try:
        wait_until(lambda: _committed_some(kafka_bootstrap, app_id, events, len(log.lines)), 180,
                   "the worker's first commits", every=0.2)
        worker.kill()
        worker.start()
        wait_until(lambda: sink.alive_records() > 0, 120, "the sink's first commits", every=0.2)
        sink.kill()
        sink = SinkProcess(log.prefix, database, "--batch-seconds", "0.3",
                           env={"MOTCUA_KAFKA_BOOTSTRAP": kafka_bootstrap})
        wait_until(lambda: _worker_ready(port) and sink.health().get("status") == "ok", 120,
                   "the restarted worker and sink to be ready", every=0.5)
        wait_until(lambda: worker.alive() and group_lag(kafka_bootstrap, app_id, events + internal) == 0, 240,
                   "the worker to drain", every=1.0)
        quiet = QuietTopic(kafka_bootstrap, log.topics.kpis, QUIET_SECONDS)
        wait_until(lambda: _june_final(ch, database) and quiet.now()
                   and group_lag(kafka_bootstrap, f"{log.prefix}sink", sink_topics) == 0,
                   180, "the worker's last KPI rows, and the sink to drain", every=1.0)
    finally:
        statuses = worker.stop(), sink.stop()
    assert statuses == (0, 0), "graceful stops"

    environment = {"MOTCUA_CLICKHOUSE_DATABASE": database}
    for scope in ("province", "unit", "procedure", "field"):
        done = motcua("audit", "diff", "--topic-prefix", log.prefix, "--no-progress", *MONTHS, "--scope", scope,
                      "--workers", "2", env=environment, check=False)
        assert done.returncode == 0, done.stdout.decode()[-3000:]
        assert b"no difference in" in done.stdout and b"provisional stored rows not compared" in done.stdout
    days = ["--period", "day", "--from", "2025-06-16", "--to", "2025-07-01", "--scope", "unit"]
    done = motcua("audit", "diff", "--topic-prefix", log.prefix, "--no-progress", *days, env=environment, check=False)
    assert done.returncode == 0, done.stdout.decode()[-3000:]

    [(unit,)] = ch.execute(f"SELECT scope_id FROM {database}.kpis_latest WHERE scope = 'unit' AND period = 'month' "
                           "AND period_start = '2025-06-01' AND finished_early > 0 ORDER BY scope_id LIMIT 1")
    alter_row(ch, database, "unit", unit, "2025-06-01", finished_early=-1, finished_on_time=1)
    done = motcua("audit", "diff", "--topic-prefix", log.prefix, "--no-progress", *MONTHS, "--scope", "unit",
                  "--format", "json", env=environment, check=False)
    assert done.returncode == 1
    [row] = orjson.loads(done.stdout)["differing"]
    assert (row["scope_id"], row["period_start"]) == (unit, "2025-06-01")
    measures: dict[str, Any] = {m["measure"]: m for m in row["measures"]}
    assert set(measures) == {"finished_early", "finished_on_time"}
    early = measures["finished_early"]
    assert early["stored"] == early["replayed"] - 1 and len(early["dossiers"]) == early["replayed"] > 0


class QuietTopic:
    """Whether a topic has received nothing for ``seconds``. A drained worker still emits the KPI rows its
    last records changed, within one emission gap (at most 10 s, ``streams.pacing``): until then the sink
    can be drained while the last rows of a dossier accepted near the end are still to come."""

    def __init__(self, bootstrap: str, topic: str, seconds: float) -> None:
        self.bootstrap, self.topic, self.seconds = bootstrap, topic, seconds
        self._ends: dict[TopicPartition, int] | None = None
        self._since = time.monotonic()

    def now(self) -> bool:
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap)
        try:
            parts = [TopicPartition(self.topic, p) for p in sorted(consumer.partitions_for_topic(self.topic) or ())]
            ends = consumer.end_offsets(parts)
        finally:
            consumer.close()
        if ends != self._ends:
            self._ends, self._since = ends, time.monotonic()
        return time.monotonic() - self._since >= self.seconds


def _worker_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=2) as response:
            return bool(orjson.loads(response.read())["status"] == "ok")
    except OSError:
        return False


def _june_final(ch: Client, database: str) -> bool:
    rows = ch.execute(f"SELECT countIf(provisional = 0), count() FROM {database}.kpis_latest "
                      "WHERE period = 'month' AND period_start = '2025-06-01'")
    return bool(rows[0][1]) and rows[0][0] == rows[0][1]
