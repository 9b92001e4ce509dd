"""Running real `motcua streams worker` processes against the local Kafka, and reading what they wrote."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from wire.topics import Topics, TopicSpec, ensure_topics

REPO = Path(__file__).resolve().parents[2]
MOTCUA = [str(Path(sys.executable).parent / "motcua")]


def create_topics(bootstrap: str, prefix: str, events_partitions: int = 6) -> Topics:
    """The five pipeline topics under a unique prefix, as `motcua stack up` creates the real ones."""
    topics = Topics.with_prefix(prefix)
    ensure_topics(
        bootstrap,
        1,
        (
            TopicSpec(topics.events, events_partitions),
            TopicSpec(topics.dlq, 1),
            TopicSpec(topics.transitions, 6),
            TopicSpec(topics.kpis, 6, {"cleanup.policy": "compact"}),
            TopicSpec(topics.alerts, 3),
        ),
    )
    return topics


@dataclass
class Record:
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


def read_topic(bootstrap: str, topic: str, timeout: float = 60.0) -> list[Record]:
    """Every record of a topic, up to its end offsets at the time of the call, by partition then offset."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=2000)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        records: list[Record] = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic} took more than {timeout} s")
            for tp_records in consumer.poll(timeout_ms=500, max_records=50_000).values():
                records.extend(Record(r.partition, r.offset, r.key, r.value, list(r.headers or ())) for r in tp_records)
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close()


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, exited but not yet reaped by init, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_until(condition: Callable[[], Any], timeout: float, what: str, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not after {timeout} s")
        time.sleep(every)


class WorkerProcess:
    """One `motcua streams worker` subprocess (or another ``command`` with its environment), its log in a file."""

    def __init__(self, env: dict[str, str], log: Path, command: list[str] | None = None) -> None:
        self.env, self.log = env, log
        self.command = command or [*MOTCUA, "streams", "worker"]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            self.command, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO
        )
        out.close()
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM (graceful shutdown) and wait; returns the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        return self.proc.returncode

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def worker_env(bootstrap: str, app_id: str, prefix: str, web_port: int, datadir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        MOTCUA_KAFKA_BOOTSTRAP=bootstrap,
        MOTCUA_STREAMS_APP_ID=app_id,
        MOTCUA_STREAMS_TOPIC_PREFIX=prefix,
        MOTCUA_STREAMS_WEB_PORT=str(web_port),
        MOTCUA_STREAMS_DATADIR=str(datadir),
        MOTCUA_STREAMS_SESSION_TIMEOUT="10",
        MOTCUA_STREAMS_LOGLEVEL="warning",
    )
    env.update(extra)
    return env
