"""Load test of the ingest API: NDJSON batches over real HTTP on loopback, at a fixed rate.

Starts `motcua ingest serve` (a subprocess, real Kafka) on a fresh topic, then an open-loop aiohttp
client sends batches of simulated events at the target rate for the given duration. Latency is
measured from each request's scheduled start (so a slow server cannot hide its queueing) to the
202, which the server sends only after Kafka acknowledged every record. Afterwards a closed-loop
phase measures the maximum throughput, and the broker's record count is checked against the 202s.

Run: `python -m bench.bench_ingest` (writes bench/results/ingest-load.json and .md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date
from pathlib import Path

import aiohttp
import orjson

from bench.bench_producers import records_on_broker
from producers.simulator.stream import simulate
from producers.sources import hash_token
from stack import services
from wire.settings import Settings
from wire.topics import TopicSpec, ensure_topics

RESULTS = Path(__file__).parent / "results"
TOKEN = "bench-ingest-token"



def _batches(size: int, count: int) -> list[bytes]:
    """`count` NDJSON bodies of `size` events of province 79, each event id unique."""
    events = [orjson.loads(e.value) for e in simulate(2025, ["79"], date(2025, 9, 1), date(2025, 9, 15)) if e.key]
    bodies = []
    for b in range(count):
        chunk = [events[(b * size + i) % len(events)] | {"event_id": f"load-{b}-{i}"} for i in range(size)]
        bodies.append(b"\n".join(orjson.dumps(e) for e in chunk))
    return bodies


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _post(session: aiohttp.ClientSession, url: str, body: bytes) -> int:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}
    async with session.post(url, data=body, headers=headers) as response:
        await response.read()
        return response.status


async def open_loop(url: str, bodies: list[bytes], per_batch: int, rate: float, seconds: float) -> dict:
    """Send a batch every `per_batch / rate` seconds whatever the replies; latency from the schedule."""
    interval = per_batch / rate
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as session:
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.1

        async def one(i: int) -> None:
            scheduled = start + i * interval
            await asyncio.sleep(max(0.0, scheduled - loop.time()))
            status = await _post(session, url, bodies[i % len(bodies)])
            latencies.append(loop.time() - scheduled)
            statuses[status] = statuses.get(status, 0) + 1

        n = int(seconds / interval)
        began = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        elapsed = time.perf_counter() - began
    ok = statuses.get(202, 0)
    return {
        "target_events_per_s": rate,
        "batch_events": per_batch,
        "requests": n,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "events_per_s": round(ok * per_batch / elapsed),
        "latency_ms": {
            "p50": round(1000 * statistics.median(latencies), 1),
            "p90": round(1000 * _percentile(latencies, 0.90), 1),
            "p99": round(1000 * _percentile(latencies, 0.99), 1),
            "max": round(1000 * max(latencies), 1),
        },
        "accepted_events": ok * per_batch,
    }


async def closed_loop(url: str, bodies: list[bytes], per_batch: int, clients: int, seconds: float) -> dict:
    """`clients` concurrent senders, each waiting for its reply: the maximum sustained throughput."""
    accepted = 0
    latencies: list[float] = []
    async with aiohttp.ClientSession() as session:
        deadline = time.perf_counter() + seconds

        async def client(c: int) -> None:
            nonlocal accepted
            i = c
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                if await _post(session, url, bodies[i % len(bodies)]) == 202:
                    accepted += per_batch
                latencies.append(time.perf_counter() - t)
                i += clients

        began = time.perf_counter()
        await asyncio.gather(*(client(c) for c in range(clients)))
        elapsed = time.perf_counter() - began
    return {
        "clients": clients,
        "batch_events": per_batch,
        "events_per_s": round(accepted / elapsed),
        "latency_ms": {
            "p50": round(1000 * statistics.median(latencies), 1),
            "p99": round(1000 * _percentile(latencies, 0.99), 1),
        },
        "accepted_events": accepted,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=2000.0, help="events/s of the sustained phase")
    parser.add_argument("--batch", type=int, default=50, help="events per NDJSON request")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    bootstrap = os.environ.get("MOTCUA_KAFKA_BOOTSTRAP") or Settings().bootstrap_servers()
    topic = f"bench.ingest.{int(time.time())}"
    ensure_topics(bootstrap, 1, (TopicSpec(topic, 6),))
    bodies = _batches(args.batch, 400)
    port = services.free_port()
    url = f"http://127.0.0.1:{port}/v1/events"
    with tempfile.TemporaryDirectory() as tmp:
        sources = Path(tmp) / "sources.json"
        sources.write_bytes(
            orjson.dumps({"sources": [{"id": "sim-79", "province": "79", "token_sha256": hash_token(TOKEN)}]})
        )
        env = {**os.environ, "MOTCUA_KAFKA_BOOTSTRAP": bootstrap, "MOTCUA_HMAC_KEY": "bench-only-key-0123456789"}
        motcua = str(Path(sys.executable).parent / "motcua")
        server = subprocess.Popen(
            [motcua, "ingest", "serve", "--sources", str(sources), "--port", str(port), "--topic", topic], env=env
        )
        try:
            _wait_ready(port)
            warm_up = asyncio.run(open_loop(url, bodies, args.batch, args.rate, 3))
            load_at_start = os.getloadavg()
            sustained = asyncio.run(open_loop(url, bodies, args.batch, args.rate, args.seconds))
            peak = asyncio.run(closed_loop(url, bodies, args.batch, 8, min(args.seconds, 20)))
        finally:
            server.terminate()
            server.wait(30)
    on_broker = records_on_broker(bootstrap, topic)
    result = {
        "benchmark": "ingest API, NDJSON batches over loopback HTTP, real Kafka (acks=all)",
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_start": load_at_start,
        },
        "sustained": sustained,
        "closed_loop_peak": peak,
        "accepted_events_total": warm_up["accepted_events"] + sustained["accepted_events"] + peak["accepted_events"],
        "records_on_broker": on_broker,
        "targets": {"events_per_s": 2000, "p99_ms": 100},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ingest-load.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "ingest-load.md").write_text(_markdown(result, args.seconds))
    print(json.dumps(result, indent=2))


def _wait_ready(port: int) -> None:
    """Until /healthz says Kafka answers (the server listens before it has connected)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the ingest server did not become ready")


def _row(name: str, phase: dict) -> str:
    ms = phase["latency_ms"]
    statuses = phase.get("statuses", "")
    return f"| {name} | {phase['events_per_s']:,} | {ms['p50']} | **{ms['p99']}** | {ms.get('max', '')} | {statuses} |"


def _markdown(r: dict, seconds: float) -> str:
    s, p = r["sustained"], r["closed_loop_peak"]
    return f"""# Ingest API under load

`python -m bench.bench_ingest`: `motcua ingest serve` (one process) on loopback with the real local
Kafka (acks=all, idempotence); an open-loop aiohttp client posts NDJSON batches of {s["batch_events"]}
simulated events at {s["target_events_per_s"]:,.0f} events/s for {seconds:.0f} s. Latency counts from each
request's scheduled start to its 202 (sent only after Kafka acknowledged every record). Machine:
{r["machine"]["cores"]} cores shared by server, client and Kafka; load average at start
{", ".join(f"{x:.1f}" for x in r["machine"]["load_average_at_start"])}.

| phase | events/s | p50 ms | p99 ms | max ms | statuses |
|---|---|---|---|---|---|
{_row("sustained, open loop", s)}
{_row(f"peak, {p['clients']} closed-loop clients", p)}

Targets: >= 2,000 events/s sustained with p99 < 100 ms. Events that got a 202 (warm-up, sustained
and peak phases): {r["accepted_events_total"]:,}; records on the broker after the run: {r["records_on_broker"]:,}.
"""


if __name__ == "__main__":
    main()
