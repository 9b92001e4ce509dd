"""Throughput of `motcua sink` landing a backlog of 1,000,000 events, against raw clickhouse-driver inserts.

Measured in the same run, `--repetitions` times each, medians reported:
  * the sink as a user runs it: `motcua sink` (a subprocess, fresh consumer group and database) over a
    backlog of N simulated events on a topic of its own, produced beforehand with the project's producer
    (acks=all, gzip); rows/s from its first committed batch to the commit of the last (read from its
    /health), the same from process start, its CPU seconds and batch latency;
  * like-for-like raw baseline: the same N events as the sink's own `events` columns, built beforehand in
    memory, inserted with bare clickhouse-driver columnar INSERTs of 50,000 rows into a fresh table of
    the same schema (what the writes cost alone: no Kafka, no decoding, no validation);
  * the same with two `motcua sink` processes in one consumer group (how the sink scales, by partition);
  * the sink's read path alone: aiokafka as the sink configures it plus `process_events`, no INSERT;
  * CPU seconds per row of the sink processes and of the ClickHouse server (both on these cores);
  * `bench.baseline.clickhouse_insert_rate`: the stack's generic insert baseline (6 narrow columns).

Needs the local stack. Run: ``python -m bench.bench_sink`` (writes ``bench/results/sink-throughput.json``
and ``.md``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord
from clickhouse_driver import Client
from kafka import KafkaConsumer, TopicPartition

from bench.baseline import clickhouse_insert_rate, machine, process_cpu_seconds, software, write_result
from dossier.contract import InvalidRecord, decode_event
from producers.kafka import EventProducer
from producers.simulator.stream import simulate
from sinks.migrate import migrate
from sinks.processors import process_events
from sinks.tables import EVENTS
from stack import services
from wire.runtime import use_fast_gzip
from wire.settings import Settings
from wire.topics import TopicSpec, ensure_topics

RESULTS = Path(__file__).parent / "results"
PROVINCES = ["01", "04", "08", "11", "12", "14", "15", "19"]
ROLES = {"events": 6, "transitions": 6, "kpis": 6, "alerts": 3, "dlq": 1}
BATCH = 50_000


def backlog_lines(events: int) -> list[bytes]:
    """The first `events` records of seeded simulated years of 8 provinces (duplicates and late ones too)."""
    lines = []
    for emission in simulate(seed=2025, provinces=PROVINCES, start=date(2025, 1, 1), end=date(2030, 1, 1)):
        lines.append(emission.value)
        if len(lines) == events:
            return lines
    raise SystemExit(f"the simulation gave only {len(lines)} events")


def topic_size(bootstrap: str, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return sum(ends.values())
    finally:
        consumer.close()


def ensure_backlog(bootstrap: str, prefix: str, lines: list[bytes]) -> float | None:
    """Produce the backlog unless the topic already holds exactly it; seconds spent producing (None: reused)."""
    ensure_topics(bootstrap, 1, tuple(TopicSpec(f"{prefix}dossier.{r}", n) for r, n in ROLES.items()))
    topic = f"{prefix}dossier.events"
    if topic_size(bootstrap, topic) == len(lines):
        return None
    if topic_size(bootstrap, topic):
        raise SystemExit(f"{topic} holds another backlog: delete that topic")
    started = time.perf_counter()
    with EventProducer(topic, bootstrap=bootstrap) as producer:
        for line in lines:
            producer.send(decode_event(line).record.dossier_id.encode(), line)
    return time.perf_counter() - started


def _health(port: int) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return dict(json.load(response))
    except OSError:
        return {}


def _server_cpu() -> float:
    """CPU seconds the local ClickHouse server has used so far (it shares the cores with the sink)."""
    return process_cpu_seconds(json.loads((services.run_dir() / "clickhouse.pid").read_text())["pid"])


def run_sink(prefix: str, database: str, events: int, port: int, processes: int = 1) -> dict[str, Any]:
    """``processes`` `motcua sink` in one consumer group over the whole backlog, timed from their /health."""
    group = f"bench-sink-{uuid.uuid4().hex[:8]}"
    command = [str(Path(sys.executable).parent / "motcua"), "sink", "--topic-prefix", prefix, "--group", group,
               "--database", database, "--batch-records", str(BATCH), "--batch-seconds", "1.0", "--health-port"]
    server_cpu, started = _server_cpu(), time.perf_counter()
    procs = [subprocess.Popen([*command, str(port + i)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for i in range(processes)]
    first: tuple[float, int] | None = None
    try:
        while True:
            healths = [_health(port + i) for i in range(processes)]
            done = sum(h.get("records_total", 0) for h in healths)
            now = time.perf_counter()
            if first is None and done:
                first = (now, done)
            if done >= events:
                cpu = sum(process_cpu_seconds(p.pid) for p in procs)
                server_cpu = _server_cpu() - server_cpu
                break
            if any(p.poll() is not None for p in procs) or now - started > 1800:
                raise SystemExit(f"a sink stopped or stalled at {done} records")
            time.sleep(0.05)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(60)
    assert first is not None
    return {
        "processes": processes,
        "rows_per_second_steady": (events - first[1]) / (now - first[0]),
        "rows_per_second_from_start": events / (now - started),
        "seconds_from_start": now - started,
        "sink_cpu_seconds": cpu,
        "rows_per_sink_cpu_second": events / cpu,
        "server_cpu_us_per_row": server_cpu / events * 1e6,
        "batch_latency_p50_s": max(h.get("batch_latency_p50_s") or 0 for h in healths),
        "batch_latency_p99_s": max(h.get("batch_latency_p99_s") or 0 for h in healths),
    }


def raw_insert(settings: dict[str, Any], database: str, lines: list[bytes]) -> dict[str, Any]:
    """The sink's own event columns for the same events, pre-built, then only the INSERTs timed."""
    batches = []
    for start in range(0, len(lines), BATCH):
        chunk = [ConsumerRecord("dossier.events", 0, start + i, 1_751_414_400_000, 0, None, line, None, 0,
                                len(line), []) for i, line in enumerate(lines[start:start + BATCH])]
        batches.append(process_events("dossier.events", 0, chunk).columns)
    client = Client(**{**settings, "database": database})
    try:
        server_cpu, wall, cpu = _server_cpu(), time.perf_counter(), time.process_time()
        for columns in batches:
            client.execute(EVENTS.insert_sql(database), columns, columnar=True)
        wall, cpu, server_cpu = time.perf_counter() - wall, time.process_time() - cpu, _server_cpu() - server_cpu
    finally:
        client.disconnect()
    rows = sum(len(c[0]) for c in batches)
    return {"rows_per_second": rows / wall, "rows_per_client_cpu_second": rows / cpu,
            "server_cpu_us_per_row": server_cpu / rows * 1e6}


async def _read_and_process(bootstrap: str, topic: str, messages: int) -> dict[str, Any]:
    """The sink's read path alone (aiokafka as the sink configures it, then `process_events`), no INSERT."""
    use_fast_gzip()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, max_partition_fetch_bytes=2 * 1024 * 1024,
                                fetch_max_bytes=32 * 1024 * 1024)
    await consumer.start()
    try:
        seen, wall, cpu = 0, time.perf_counter(), time.process_time()
        while seen < messages:
            for tp, records in (await consumer.getmany(timeout_ms=1000, max_records=BATCH)).items():
                process_events(tp.topic, tp.partition, records)
                seen += len(records)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        await consumer.stop()
    return {"rows_per_second": seen / wall, "cpu_us_per_row": cpu / seen * 1e6}


def fresh(client: Client, database: str) -> str:
    client.execute(f"DROP DATABASE IF EXISTS {database}")
    migrate(client, database)
    return database


def distinct_events(lines: list[bytes]) -> int:
    seen = set()
    for line in lines:
        try:
            r = decode_event(line).record
        except InvalidRecord:
            continue
        seen.add((r.dossier_id, r.event_id))
    return len(seen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_sink", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--port", type=int, default=18190, help="the sink's health port")
    parser.add_argument("--out", type=Path, default=RESULTS / "sink-throughput.json")
    args = parser.parse_args(argv)
    bootstrap, settings = Settings().bootstrap_servers(), Settings().clickhouse_settings()
    info = machine()
    lines = backlog_lines(args.events)
    prefix = f"bench.sink.{args.events}."
    produced_in = ensure_backlog(bootstrap, prefix, lines)
    client = Client(**settings)
    runs: list[dict[str, Any]] = []
    try:
        for rep in range(args.repetitions):
            run: dict[str, Any] = {}
            for name, processes in (("sink", 1), ("sink_2_processes", 2)):
                run[name] = run_sink(prefix, fresh(client, "bench_sink"), args.events, args.port, processes)
                landed = client.execute("SELECT count() FROM bench_sink.events_unique")[0][0]
                run[name]["distinct_events_landed"] = landed
            run["raw_events_insert"] = raw_insert(settings, fresh(client, "bench_sink_raw"), lines)
            run["read_path"] = asyncio.run(_read_and_process(bootstrap, f"{prefix}dossier.events", args.events))
            rate = clickhouse_insert_rate(settings, rows=1_000_000)
            run["baseline_clickhouse_insert"] = {"rows_per_second": rate.per_second,
                                                 "rows_per_client_cpu_second": rate.per_cpu_second}
            runs.append(run)
            print(f"run {rep + 1}: sink {run['sink']['rows_per_second_steady']:,.0f} rows/s, 2 processes "
                  f"{run['sink_2_processes']['rows_per_second_steady']:,.0f}, raw events insert "
                  f"{run['raw_events_insert']['rows_per_second']:,.0f}, read path "
                  f"{run['read_path']['rows_per_second']:,.0f}, bench.baseline insert {rate.per_second:,.0f}",
                  file=sys.stderr)
    finally:
        for database in ("bench_sink", "bench_sink_raw"):
            client.execute(f"DROP DATABASE IF EXISTS {database}")
        client.disconnect()
    expected = distinct_events(lines)
    assert all(r[name]["distinct_events_landed"] == expected for r in runs for name in ("sink", "sink_2_processes")), (
        "deduplicated count differs"
    )

    def median(path: tuple[str, str]) -> float:
        return statistics.median(r[path[0]][path[1]] for r in runs)

    sink = median(("sink", "rows_per_second_steady"))
    two = median(("sink_2_processes", "rows_per_second_steady"))
    raw = median(("raw_events_insert", "rows_per_second"))
    generic = median(("baseline_clickhouse_insert", "rows_per_second"))
    sink_cpu_us = 1e6 / median(("sink", "rows_per_sink_cpu_second"))
    server_cpu_us = median(("sink", "server_cpu_us_per_row"))
    # With both cores busy all the time, split perfectly between the sink's processes and ClickHouse:
    bound = info["nproc"] / (sink_cpu_us + server_cpu_us) * 1e6
    result = {
        "benchmark": "motcua sink over a backlog of simulated events, against raw clickhouse-driver inserts",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {**info, "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "software": software(),
        "config": {"events": args.events, "distinct_events": expected, "repetitions": args.repetitions,
                   "batch_records": BATCH, "batch_seconds": 1.0, "producer": "producers.kafka.EventProducer (gzip)",
                   "backlog_produced_seconds": produced_in},
        "summary": {
            "sink_rows_per_second": round(sink),
            "sink_rows_per_second_from_start": round(median(("sink", "rows_per_second_from_start"))),
            "sink_rows_per_sink_cpu_second": round(median(("sink", "rows_per_sink_cpu_second"))),
            "sink_2_processes_rows_per_second": round(two),
            "raw_events_insert_rows_per_second": round(raw),
            "bench_baseline_insert_rows_per_second": round(generic),
            "read_path_rows_per_second": round(median(("read_path", "rows_per_second"))),
            "cpu_us_per_row": {
                "sink_process": round(sink_cpu_us, 2),
                "clickhouse_server_during_sink": round(server_cpu_us, 2),
                "read_path": round(median(("read_path", "cpu_us_per_row")), 2),
                "raw_insert_client": round(1e6 / median(("raw_events_insert", "rows_per_client_cpu_second")), 2),
                "raw_insert_server": round(median(("raw_events_insert", "server_cpu_us_per_row")), 2),
            },
            "cpu_bound_rows_per_second": round(bound),
            "ratio_to_raw_events_insert": round(sink / raw, 3),
            "ratio_2_processes_to_raw_events_insert": round(two / raw, 3),
            "cpu_bound_ratio_to_raw_events_insert": round(bound / raw, 3),
            "ratio_to_bench_baseline_insert": round(sink / generic, 3),
            "target": ">= 100,000 rows/s and >= 0.7 of the baseline",
        },
        "runs": runs,
    }
    write_result(args.out, result, markdown)
    return 0


def markdown(result: dict[str, Any]) -> str:
    s, c, m = result["summary"], result["config"], result["machine"]
    lines = [
        "# Sink throughput",
        "",
        f"Measured {result['date']} by `python -m bench.bench_sink` on {m['nproc']} cores of {m['cpu_model']} "
        f"(load average {m['load_average']} at start, {m['load_average_at_end']} at end; shared machine). "
        f"Kafka {result['software']['kafka']}, ClickHouse {result['software']['clickhouse']}; median of "
        f"{c['repetitions']} runs over a backlog of {c['events']:,} events ({c['distinct_events']:,} distinct).",
        "",
        "| measurement | rows/s |",
        "|---|---|",
        f"| `motcua sink`, first to last commit | {s['sink_rows_per_second']:,} |",
        f"| `motcua sink`, from process start | {s['sink_rows_per_second_from_start']:,} |",
        f"| `motcua sink`, per CPU second of the sink process | {s['sink_rows_per_sink_cpu_second']:,} |",
        f"| two `motcua sink` processes in one group, first to last commit | "
        f"{s['sink_2_processes_rows_per_second']:,} |",
        f"| the sink's read path alone (aiokafka + `process_events`, no INSERT) | "
        f"{s['read_path_rows_per_second']:,} |",
        f"| raw clickhouse-driver INSERTs of the same `events` rows (like for like) | "
        f"{s['raw_events_insert_rows_per_second']:,} |",
        f"| `bench.baseline.clickhouse_insert_rate` (6 narrow columns) | "
        f"{s['bench_baseline_insert_rows_per_second']:,} |",
        "",
        f"Ratio of the sink to the like-for-like raw insert: **{s['ratio_to_raw_events_insert']}** (two processes: "
        f"{s['ratio_2_processes_to_raw_events_insert']}); to the generic baseline: "
        f"{s['ratio_to_bench_baseline_insert']}. Target: {s['target']}.",
        "",
        "CPU per row (µs), measured in the same runs (`/proc` of the sink and of the ClickHouse server):",
        "",
        "| sink process | ClickHouse server during the sink | read path alone | raw insert: client "
        "| raw insert: server |",
        "|---:|---:|---:|---:|---:|",
        "| {sink_process} | {clickhouse_server_during_sink} | {read_path} | {raw_insert_client} | "
        "{raw_insert_server} |".format(**s["cpu_us_per_row"]),
        "",
        f"The sink, Kafka and ClickHouse share {m['nproc']} cores. Even with both cores busy all the time and the "
        f"work split perfectly between sink processes and the server, the sink could land at most {m['nproc']} / "
        f"(sink + server CPU per row) = {s['cpu_bound_rows_per_second']:,} rows/s: "
        f"{s['cpu_bound_ratio_to_raw_events_insert']} of the raw insert, which itself has a core to spare for "
        "the server while the client serialises.",
        "",
        "Every run checks that the deduplicated event count equals the distinct events of the backlog.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
