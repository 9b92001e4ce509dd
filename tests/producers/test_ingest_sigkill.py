"""SIGKILL the ingest service under load, restart it: every event that got a 202 is in Kafka exactly once."""

from __future__ import annotations

import collections
import http.client
import signal
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
from tests.producers.ingest_harness import serve_process
from tests.streams.harness import alive, wait_until

pytestmark = pytest.mark.integration

TOKEN = "sigkill-test-token"
EVENTS = [orjson.loads(e.value) for e in simulate(9, ["04"], date(2025, 7, 7), date(2025, 7, 12))]
BATCH = 50


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
                headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}
                conn.request("POST", "/v1/events", body, headers)
                status = conn.getresponse().status
            except OSError:
                status = None
                time.sleep(0.05)
            with self.lock:
                if status == 202:
                    self.acked += [e["event_id"] for e in events]
                else:
                    self.failed += 1


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def test_sigkill_under_load_loses_and_duplicates_nothing_acknowledged(
    topic: str, bootstrap: str, tmp_path: Path
) -> None:
    sources = tmp_path / "sources.json"
    entry = {"id": "sim-04", "province": "04", "token_sha256": hash_token(TOKEN)}
    sources.write_bytes(orjson.dumps({"sources": [entry]}))
    port, log = free_port(), tmp_path / "ingest.log"
    server = serve_process(port, topic, sources, log)
    load = Load(port)
    clients = [threading.Thread(target=load.run) for _ in range(4)]
    try:
        for c in clients:
            c.start()
        time.sleep(2)
        acked_before_kill = len(load.acked)
        validators = children_of(server.pid)
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        time.sleep(0.5)
        server = serve_process(port, topic, sources, log)
        time.sleep(2)
    finally:
        load.stop.set()
        for c in clients:
            c.join(60)
        server.terminate()
        server.wait(30)
    assert acked_before_kill > 0 and len(load.acked) > acked_before_kill and load.failed > 0
    assert validators, "the server had no validator processes"
    wait_until(lambda: not any(map(alive, validators)), 10,
               "the killed server's validator processes to exit")
    counts = collections.Counter(orjson.loads(v)["event_id"] for _, _, v in read_topic(bootstrap, topic))
    assert {i: counts[i] for i in load.acked if counts[i] != 1} == {}
    print(f"acked {len(load.acked)} events, {load.failed} failed requests, {sum(counts.values())} records on Kafka")
