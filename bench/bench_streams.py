"""Throughput of one `motcua streams worker` from a backlog of 1,000,000 events, against raw aiokafka.

In the same run, on the same topic:
  * the raw baseline: one aiokafka consumer reading the whole backlog and doing nothing else
    (`bench.baseline.aiokafka_consumer_rate`), then the same plus decoding every record with the contract;
  * faust's floor: a faust worker that reads the backlog in the worker's batches and does nothing else
    (`bench/faust_floor.py`);
  * `motcua streams worker` subprocesses (real Kafka): records/s while the group's committed offsets
    advance (start-up excluded), records/s from process start to lag 0, records per CPU second.

The backlog is the first 1,000,000 events of `bench.bench_kpi`'s simulated year (10 provinces), produced
once into a fresh topic with dossier ids as keys. Needs the local stack (`motcua stack up`).
The worker runs three times: the dossier stage alone (``MOTCUA_STREAMS_STAGES=dossiers``), then the KPI
stages alone on the summaries it produced (same group), then all stages in one worker (a fresh group).
Run: `python -m bench.bench_streams` (writes bench/results/streams-throughput.json and .md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaConsumer, TopicPartition

from bench.baseline import aiokafka_consumer_rate, machine, process_cpu_seconds, software
from bench.bench_kpi import dataset
from dossier.contract import InvalidRecord, decode_event
from tests.streams.harness import WorkerProcess, create_topics, worker_env
from wire.groups import group_lag
from wire.partitioner import key_partition
from wire.settings import Settings

RESULTS = Path(__file__).parent / "results"
PARTITIONS = 6


async def _load(bootstrap: str, topic: str, path: Path, limit: int) -> int:
    """Produce the file's first ``limit`` events, keyed by dossier id, with aiokafka's batch API."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=1 << 20)
    await producer.start()
    sent = 0
    try:
        batches: dict[int, Any] = {}
        with path.open("rb") as lines:
            for line in lines:
                if sent == limit:
                    break
                line = line.rstrip(b"\n")
                key = orjson.loads(line)["dossier_id"].encode()
                partition = key_partition(key, PARTITIONS)
                batch = batches.get(partition) or batches.setdefault(partition, producer.create_batch())
                if batch.append(key=key, value=line, timestamp=None) is None:
                    await producer.send_batch(batch, topic, partition=partition)
                    batch = batches[partition] = producer.create_batch()
                    batch.append(key=key, value=line, timestamp=None)
                sent += 1
        for partition, batch in batches.items():
            await producer.send_batch(batch, topic, partition=partition)
        await producer.flush()
    finally:
        await producer.stop()
    return sent


async def _decode_all(bootstrap: str, topic: str, messages: int) -> dict[str, float]:
    """The raw consumer plus the contract decoder on every record: the floor of any validating processor."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        seen, started, cpu = 0, time.perf_counter(), time.process_time()
        while seen < messages:
            for records in (await consumer.getmany(timeout_ms=1000, max_records=10_000)).values():
                for record in records:
                    with contextlib.suppress(InvalidRecord):
                        decode_event(record.value)
                seen += len(records)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        return {"events": seen, "wall_s": wall, "cpu_s": cpu, "per_second": seen / wall}
    finally:
        await consumer.stop()


def run_worker(
    bootstrap: str, prefix: str, app_id: str, stages: str, watch: list[str], workdir: Path,
    command: list[str] | None = None,
) -> dict[str, Any]:
    """Start one worker (``stages``); sample its group's committed lag on ``watch`` every half second until 0."""
    env = worker_env(bootstrap, app_id, prefix, 16099, workdir / f"data-{stages}", MOTCUA_STREAMS_STAGES=stages)
    worker = WorkerProcess(env, workdir / f"worker-{stages}.log", command).start()
    assert worker.proc is not None
    started = time.perf_counter()
    samples: list[tuple[float, int]] = []
    try:
        while True:
            lag = group_lag(bootstrap, app_id, watch)
            now = time.perf_counter() - started
            if lag is not None:
                samples.append((now, lag))
            if lag == 0:
                cpu = process_cpu_seconds(worker.proc.pid)
                break
            if now > 3600 or not worker.alive():
                raise RuntimeError(f"worker did not drain {watch} (lag {lag}); see {workdir}")
            time.sleep(0.5)
    finally:
        worker.stop()
    total = records_in(bootstrap, watch)
    drained = samples[-1][0]
    first_commit = next(i for i, (_, lag) in enumerate(samples) if lag < samples[0][1])
    t0, lag0 = samples[max(first_commit - 1, 0)]
    return {
        "stages": stages,
        "records": total,
        "seconds_to_lag_0_from_start": drained,
        "per_second_from_start": total / drained,
        "per_second_while_committing": lag0 / (drained - t0),
        "worker_cpu_seconds": cpu,
        "per_cpu_second": total / cpu,
    }


def records_in(bootstrap: str, topics: list[str]) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        parts = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
        return sum(consumer.end_offsets(parts).values())
    finally:
        consumer.close()


def write_results(result: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "streams-throughput.json").write_text(json.dumps(result, indent=2) + "\n")
    raw, decode, floor = result["raw_aiokafka"], result["aiokafka_plus_decode"], result["faust_reading_only"]
    dossiers, kpis, whole = result["dossier_stage"], result["kpi_stages"], result["whole_worker"]
    events = result["events"]

    def line(what: str, run: dict[str, Any], unit: str, note: str) -> str:
        return (
            f"| {what} | {run['per_second_while_committing']:,.0f} {unit} | {run['per_second_from_start']:,.0f} | "
            f"{run['per_cpu_second']:,.0f} | {note} |"
        )

    machine = result["machine"]
    lines = [
        f"# Stream processors: one worker from a backlog of {events:,} events",
        "",
        f"Measured {result['when']} by `python -m bench.bench_streams` on {machine['cpu_model']} "
        f"({machine['nproc']} cores, shared; load average at start {machine['load_average']}); "
        f"the workers' table store: `{result['store']}`.",
        "",
        "| what | while committing | from process start | per CPU second | notes |",
        "|---|---:|---:|---:|---|",
        f"| raw aiokafka consumer, same topic | {raw['per_second']:,.0f} events/s | | | reads only |",
        f"| aiokafka + contract decoding | {decode['per_second']:,.0f} events/s | | | `decode_event` per record |",
        line("faust worker reading only", floor, "events/s",
             "`bench/faust_floor.py`: same batches, no processing: faust's own cost per message"),
        line("worker, dossier stage only", dossiers, "events/s", "state, DLQ, transitions, timers, alerts, summaries"),
        line("worker, KPI stages only", kpis, "messages/s",
             f"{kpis['records']:,} messages of summaries and partial rows (grouped); the {events:,} events' "
             f"summaries in {kpis['seconds_to_lag_0_from_start']:,.0f} s from start: "
             f"{events / kpis['seconds_to_lag_0_from_start']:,.0f} events/s"),
        line("**worker, all stages**", whole, "events/s", "what one worker drains on this machine"),
        "",
        f"Whole worker / raw consumer: {whole['per_second_while_committing'] / raw['per_second']:.3f}; "
        f"dossier stage / raw consumer: {dossiers['per_second_while_committing'] / raw['per_second']:.3f}; "
        f"faust reading only / raw consumer: {floor['per_second_while_committing'] / raw['per_second']:.3f}.",
        "",
    ]
    (RESULTS / "streams-throughput.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, default=Path("var/bench/kpi-events.jsonl"))
    args = parser.parse_args()
    bootstrap = Settings().bootstrap_servers()
    info = {**machine(), "load_average": [round(x, 2) for x in os.getloadavg()]}
    dataset(args.data, args.events)
    prefix = f"bench_streams_{uuid.uuid4().hex[:8]}."
    topics = create_topics(bootstrap, prefix, PARTITIONS)
    loaded = asyncio.run(_load(bootstrap, topics.events, args.data, args.events))
    print(f"loaded {loaded:,} events into {topics.events}", flush=True)
    raw = aiokafka_consumer_rate(bootstrap, topics.events, loaded)
    raw_result = {"events": raw.count, "wall_s": raw.wall_s, "cpu_s": raw.cpu_s, "per_second": raw.per_second}
    print(f"raw aiokafka: {raw.per_second:,.0f} events/s", flush=True)
    decode = asyncio.run(_decode_all(bootstrap, topics.events, loaded))
    print(f"aiokafka + decode: {decode['per_second']:,.0f} events/s", flush=True)
    workdir = Path("var/bench") / prefix.rstrip(".")
    workdir.mkdir(parents=True, exist_ok=True)
    staged, whole = f"{prefix}staged", f"{prefix}whole"
    floor = run_worker(bootstrap, prefix, f"{prefix}faust-floor", "dossiers", [topics.events], workdir,
                       [sys.executable, "-m", "bench.faust_floor"])
    print(f"faust reading only: {floor['per_second_while_committing']:,.0f} events/s", flush=True)
    dossiers = run_worker(bootstrap, prefix, staged, "dossiers", [topics.events], workdir)
    print(f"dossier stage: {dossiers['per_second_while_committing']:,.0f} events/s", flush=True)
    internal = [f"{staged}-summaries", f"{staged}-kpi-partials"]
    kpis = run_worker(bootstrap, prefix, staged, "kpis", internal, workdir)
    print(f"KPI stages: {loaded / kpis['seconds_to_lag_0_from_start']:,.0f} events/s (from start)", flush=True)
    both = run_worker(bootstrap, prefix, whole, "all", [topics.events], workdir)
    print(f"whole worker: {both['per_second_while_committing']:,.0f} events/s", flush=True)
    write_results(
        {
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": info,
            "software": software(),
            "events": loaded,
            "store": "disk:// (streams/store.py)",
            "raw_aiokafka": raw_result,
            "aiokafka_plus_decode": decode,
            "faust_reading_only": floor,
            "dossier_stage": dossiers,
            "kpi_stages": kpis,
            "whole_worker": both,
        }
    )


if __name__ == "__main__":
    main()
