"""SIGKILL the ingest service under load, restart it: every event that got a 202 is in Kafka exactly once."""

from __future__ import annotations

import collections
import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import orjson
import pytest

from producers.simulator.stream import simulate
from producers.sources import hash_token
from stack.services import free_port
from tests.producers.helpers import read_topic

pytestmark = pytest.mark.integration

TOKEN = "sigkill-test-token"
EVENTS = [orjson.loads(e.value) for e in simulate(9, ["04"], date(2025, 7, 7), date(2025, 7, 12))]
BATCH = 50



def start(port: int, topic: str, sources: Path, log: Path) -> subprocess.Popen[bytes]:
    command = [str(Path(sys.executable).parent / "motcua"), "ingest", "serve", "--sources", str(sources),
               "--port", str(port), "--topic", topic]  # fmt: skip
    process = subprocess.Popen(command, stdout=log.open("ab"), stderr=subprocess.STDOUT, env=os.environ.copy())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"ingest did not start: {log.read_text()}")


class Load:
    """Client threads posting NDJSON batches of events with unique ids; remembers what got a 202."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.acked: list[str] = []
        self.failed = 0
        self.batches = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def batch(self) -> list[dict]:
        with self.lock:
            n = self.batches
            self.batches += 1
        events = [EVENTS[(n * BATCH + i) % len(EVENTS)] for i in range(BATCH)]
        return [e | {"event_id": f"kill-{n}-{i}"} for i, e in enumerate(events)]

    def run(self) -> None:
        while not self.stop.is_set():
            events = self.batch()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                body = b"\n".join(orjson.dumps(e) for e in events)
                conn.request("POST", "/v1/events", body, {"Authorization": f"Bearer {TOKEN}"})
                status = conn.getresponse().status
            except OSError:
                status = None
                time.sleep(0.05)
            with self.lock:
                if status == 202:
                    self.acked += [e["event_id"] for e in events]
                else:
                    self.failed += 1


def test_sigkill_under_load_loses_and_duplicates_nothing_acknowledged(
    topic: str, bootstrap: str, tmp_path: Path
) -> None:
    sources = tmp_path / "sources.json"
    entry = {"id": "sim-04", "province": "04", "token_sha256": hash_token(TOKEN)}
    sources.write_bytes(orjson.dumps({"sources": [entry]}))
    port, log = free_port(), tmp_path / "ingest.log"
    server = start(port, topic, sources, log)
    load = Load(port)
    clients = [threading.Thread(target=load.run) for _ in range(4)]
    try:
        for c in clients:
            c.start()
        time.sleep(2)
        acked_before_kill = len(load.acked)
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        time.sleep(0.5)
        server = start(port, topic, sources, log)
        time.sleep(2)
    finally:
        load.stop.set()
        for c in clients:
            c.join(60)
        server.terminate()
        server.wait(30)
    assert acked_before_kill > 0 and len(load.acked) > acked_before_kill and load.failed > 0
    counts = collections.Counter(orjson.loads(v)["event_id"] for _, _, v in read_topic(bootstrap, topic))
    assert {i: counts[i] for i in load.acked if counts[i] != 1} == {}
    print(f"acked {len(load.acked)} events, {load.failed} failed requests, {sum(counts.values())} records on Kafka")
