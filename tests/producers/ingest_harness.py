"""A real ingest server on a loopback port, run in a thread, and a plain HTTP client for it."""

from __future__ import annotations

import asyncio
import http.client
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiohttp import web

from producers.ingest.app import Limits, make_app
from producers.kafka import INGEST, EventProducer
from producers.pseudonym import Pseudonymiser
from producers.sources import Source, TokenRegistry, hash_token
from wire.topics import TopicSpec, ensure_topics

TOKEN_04, TOKEN_79, TOKEN_24 = "token-of-province-04", "token-of-province-79", "token-of-province-24"
SOURCES = {
    "sim-04": Source("sim-04", "04", hash_token(TOKEN_04), "000.00.00.H04", {"Sở Tư pháp": "000.00.01.H04"}),
    "sim-79": Source("sim-79", "79", hash_token(TOKEN_79), "000.00.00.H79"),
    "sim-24": Source("sim-24", "24", hash_token(TOKEN_24), "000.00.00.H24"),  # Bắc Ninh, formed from 24 and 27
}


def dlq_of(topic: str) -> str:
    """The DLQ topic of a test's events topic."""
    return f"{topic}_dlq"


def serve_process(port: int, topic: str, sources: Path, log: Path, *options: str) -> subprocess.Popen[bytes]:
    """`motcua ingest serve` as a subprocess logging to `log`, once /healthz answers 200."""
    command = [str(Path(sys.executable).parent / "motcua"), "ingest", "serve", "--sources", str(sources),
               "--port", str(port), "--topic", topic, *options]  # fmt: skip
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


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return orjson.loads(self.body)


@dataclass
class Ingest:
    port: int

    def post(
        self, path: str, body: bytes, token: str | None = TOKEN_04, content_type: str = "application/json"
    ) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            headers = {"Content-Type": content_type}
            if token is not None:
                headers["Authorization"] = f"Bearer {token}"
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            return Reply(response.status, dict(response.headers), response.read())
        finally:
            conn.close()

    def get(self, path: str) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return Reply(response.status, dict(response.headers), response.read())
        finally:
            conn.close()


@contextmanager
def ingest_server(topic: str, bootstrap: str, limits: Limits | None = None) -> Iterator[Ingest]:
    """Serve the real app (real Kafka producer) on 127.0.0.1:<free port> until the block ends.

    Refused records go to the topic `dlq_of(topic)`, created here.
    """
    ensure_topics(bootstrap, 1, (TopicSpec(dlq_of(topic), 1),))
    app = make_app(
        lambda: EventProducer(topic, bootstrap, **INGEST),
        TokenRegistry(SOURCES),
        Pseudonymiser.from_env(),
        limits,
        dlq_of(topic),
    )
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    api = Ingest(port)
    try:
        deadline = time.monotonic() + 30
        while api.get("/healthz").status != 200:
            assert time.monotonic() < deadline, "the ingest app did not connect to Kafka"
            time.sleep(0.05)
        yield api
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
