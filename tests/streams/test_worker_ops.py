"""A worker as a supervisor sees it, on the real local Kafka: it starts on a fresh home, it stops within 30 s
under load, it says so and exits when it can make no progress, and one outlier does not exhaust it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from audit.eventfile import read_event_file
from audit.kpi_report import kpi_table
from dossier.calendar import default_calendar
from dossier.kpi import SCOPES
from dossier.periods import PERIOD_KINDS
from producers.kafka import EventProducer
from stack.services import free_port
from streams.config import Topics
from streams.watchdog import EXIT_STALLED
from tests.domain.spec_helpers import accepted
from tests.private_servers import PrivateKafka
from tests.streams.harness import (
    MOTCUA,
    WorkerProcess,
    create_topics,
    read_topic,
    wait_until,
    worker_env,
)
from tests.streams.test_end_to_end import END_TICK, HMAC_KEY, live_rows, load_events, wait_for_drain
from wire.groups import group_lag
from wire.topics import partials_topic, summaries_topic

pytestmark = pytest.mark.integration

FROM, TO = date(2025, 7, 1), date(2025, 7, 15)


@pytest.fixture(scope="module")
def two_weeks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Province 01, two weeks of July 2025 (~20,000 events)."""
    path = tmp_path_factory.mktemp("streams-ops") / "two-weeks.jsonl"
    subprocess.run(
        [*MOTCUA, "produce", "simulate", "--seed", "5", "--provinces", "1", "--from", str(FROM), "--to", str(TO),
         "--to-file", str(path), "--no-progress"],
        check=True,
        capture_output=True,
    )
    return path


def health(port: int) -> tuple[int, dict[str, Any]] | None:
    """The status code and body of the worker's /health/, None while it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=2) as response:
            return response.status, orjson.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, orjson.loads(error.read())
    except OSError:
        return None


def started_worker(bootstrap: str, name: str, tmp_path: Path, **extra: str) -> tuple[WorkerProcess, int, Topics]:
    topics = create_topics(bootstrap, f"{name}.")
    port = free_port()
    env = worker_env(bootstrap, name, f"{name}.", port, tmp_path / "data", **extra)
    return WorkerProcess(env, tmp_path / "worker.log").start(), port, topics


def test_a_worker_starts_without_a_data_directory_on_a_fresh_home(kafka_bootstrap: str, run_id: str,
                                                                  tmp_path: Path) -> None:
    name = f"ops_home_{run_id}"
    create_topics(kafka_bootstrap, f"{name}.")
    port = free_port()
    env = worker_env(kafka_bootstrap, name, f"{name}.", port, tmp_path, MOTCUA_HOME=str(tmp_path / "fresh" / "home"))
    del env["MOTCUA_STREAMS_DATADIR"]
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        wait_until(lambda: (h := health(port)) is not None and h[0] == 200, 90, "/health 200", every=0.5)
        assert (tmp_path / "fresh" / "home" / "streams" / f"{name}-{port}").is_dir()
    finally:
        assert worker.stop() == 0


def test_sigterm_under_load_stops_the_worker_within_30_s(kafka_bootstrap: str, run_id: str, two_weeks: Path,
                                                         tmp_path: Path) -> None:
    name = f"ops_term_{run_id}"
    worker, _, topics = started_worker(kafka_bootstrap, name, tmp_path)
    try:
        load_events(kafka_bootstrap, topics, two_weeks)
        total = sum(1 for _ in two_weeks.open())
        wait_until(lambda: (lag := group_lag(kafka_bootstrap, name, [topics.events])) is not None and lag < total,
                   120, "the worker busy with the backlog", every=0.5)
        assert (group_lag(kafka_bootstrap, name, [topics.events]) or 0) > 1000, "still loaded when stopped"
        started = time.monotonic()
        status = worker.stop(timeout=60)
        took = time.monotonic() - started
    finally:
        worker.stop()
    print(f"\nSIGTERM under load: exit {status} after {took:.1f} s")
    assert status == 0 and took < 30


def test_a_worker_that_makes_no_progress_says_so_and_exits_non_zero(run_id: str, two_weeks: Path,
                                                                    tmp_path: Path) -> None:
    """With the broker paused (SIGSTOP) nothing moves while records are pending, as when a flush hung.

    The broker is one of the test's own: the shared one serves the tests running beside this one."""
    broker = PrivateKafka(tmp_path / "private")
    broker.start()
    try:
        name = f"ops_stall_{run_id}"
        worker, port, topics = started_worker(broker.bootstrap, name, tmp_path, MOTCUA_STREAMS_STALL_SECONDS="10")
        load_events(broker.bootstrap, topics, two_weeks)
        wait_until(lambda: group_lag(broker.bootstrap, name, [topics.events]) is not None, 120, "a first commit",
                   every=0.5)
        seen: list[tuple[int, dict[str, Any]]] = []
        os.kill(broker.pid, signal.SIGSTOP)
        paused = time.monotonic()
        try:
            while worker.alive() and time.monotonic() - paused < 60:
                if (answer := health(port)) is not None:
                    seen.append(answer)
                time.sleep(0.5)
        finally:
            os.kill(broker.pid, signal.SIGCONT)
            took = time.monotonic() - paused
            worker.stop()
    finally:
        broker.stop()
    stalled = [body for status, body in seen if status == 503 and body["status"] == "stalled"]
    print(f"\nbroker paused: /health said {stalled[:1]}; exit {worker.proc.returncode} after {took:.0f} s")
    assert stalled and "no progress" in stalled[0]["reason"]
    assert worker.proc.returncode == EXIT_STALLED


def test_events_dated_2099_and_1990_neither_exhaust_the_worker_nor_change_other_rows(
    kafka_bootstrap: str, run_id: str, two_weeks: Path, tmp_path: Path
) -> None:
    """Issue 14, item 3: 24 events dated 2099 took a worker from 572 MB to 14 GB. Here a normal load, then
    events of 2099 (in the loaded province) and 1990 (another one) straight to Kafka: RSS and CPU measured
    before and after them; then the final tick, and every other row equals the audit's.
    The 1990 event, outside the working calendar, goes to the DLQ (it crashed the worker at every start)."""
    name = f"ops_outlier_{run_id}"
    worker, _, topics = started_worker(kafka_bootstrap, name, tmp_path)

    def drained() -> bool:
        assert worker.alive()
        return group_lag(kafka_bootstrap, name, [topics.events, summaries_topic(name), partials_topic(name)]) == 0

    def rss_mb() -> float:
        status = Path(f"/proc/{worker.proc.pid}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) / 1024

    def cpu_seconds() -> float:
        fields = Path(f"/proc/{worker.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    try:
        load_events_without_end(kafka_bootstrap, topics, two_weeks)
        wait_until(drained, 180, "the normal load processed", every=1.0)
        time.sleep(3)
        before = rss_mb()
        outliers = [
            accepted(f"000.00.01.H01-990701-{n:04d}", f"2099-07-{n % 28 + 1:02d}T09:00:00+07:00",
                     f"2099-08-{n % 28 + 1:02d}T09:00:00+07:00", province="01", unit="OUT-2099",
                     procedure_code="OUT-2099", source="clock-ahead")
            for n in range(24)
        ]
        outliers.append(accepted("000.00.79.H79-900101-0001", "1990-01-02T09:00:00+07:00",
                                 "1990-01-10T09:00:00+07:00", province="79", unit="OUT-1990",
                                 procedure_code="OUT-1990", source="clock-behind"))
        with EventProducer(topics.events, bootstrap=kafka_bootstrap) as producer:
            for event in outliers:
                producer.send(event["dossier_id"].encode(), orjson.dumps(event))
        wait_until(drained, 180, "the outliers processed", every=1.0)
        time.sleep(3)
        cpu, after = cpu_seconds(), rss_mb()
        time.sleep(5)
        idle_cpu = cpu_seconds() - cpu
        with EventProducer(topics.events, bootstrap=kafka_bootstrap) as producer:
            producer.broadcast(END_TICK)
        wait_for_drain(kafka_bootstrap, name, topics, [worker])
    finally:
        assert worker.stop() == 0
    print(f"\nRSS {before:.0f} MB before the outliers, {after:.0f} MB after; {idle_cpu:.2f} s CPU in the 5 s after")
    assert after < before * 1.2 + 30
    assert idle_cpu < 2.5

    calendar = default_calendar()
    log = read_event_file(two_weeks, lambda n, v: pytest.fail(f"line {n} invalid: {v}"))
    expected = {}
    for kind in PERIOD_KINDS:
        for scope in SCOPES:
            for row in kpi_table(log, kind, FROM, date(2026, 1, 1), calendar).rows(scope):
                expected[f"{scope}/{row['scope_id']}/{kind}/{row['period_start']}"] = row
    live = live_rows(kafka_bootstrap, topics)
    assert {k: r for k, r in live.items() if r["scope_id"] not in ("OUT-2099", "OUT-1990")} == expected
    assert [b"1990" in r.value for r in read_topic(kafka_bootstrap, topics.dlq)] == [True]


def load_events_without_end(bootstrap: str, topics: Topics, events_file: Path) -> None:
    """The events, then a clock tick at the end of their last day (not the final one) in every partition."""
    env = {**os.environ, "MOTCUA_KAFKA_BOOTSTRAP": bootstrap, "MOTCUA_HMAC_KEY": HMAC_KEY}
    subprocess.run([*MOTCUA, "produce", "import", "--format", "events", str(events_file), "--topic", topics.events],
                   env=env, check=True, capture_output=True)
    with EventProducer(topics.events, bootstrap=bootstrap) as producer:
        producer.broadcast(b'{"schema":"clock-tick/1","at":"2025-07-15T00:00:00+07:00"}')
