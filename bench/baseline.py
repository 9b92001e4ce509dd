"""Raw baseline of the building blocks on this machine, for later work to measure itself against.

* kafka-python producer throughput: 500-byte messages, acks=all (kafka-python's default batching, and
  batched with linger_ms=10 / batch_size=256 KiB, uncompressed);
* aiokafka consumer throughput: the same messages read back from the start of the topic;
* clickhouse-driver columnar insert throughput: rows/s in batches of 50,000 rows.

Each is repeated and reported as the median. Needs the local stack (``motcua stack up``); not part of
``make test``. Run: ``python -m bench.baseline`` (writes ``bench/results/baseline.json`` and ``.md``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from clickhouse_driver import Client
from kafka import KafkaAdminClient, KafkaProducer

from stack import clickhouse as local_clickhouse
from stack import kafka as local_kafka
from stack import services
from wire.settings import Settings
from wire.topics import TopicSpec, ensure_topics

RESULTS = Path(__file__).parent / "results"


@dataclass(frozen=True)
class Rate:
    """`count` items in `wall_s` seconds, of which this process used `cpu_s` CPU seconds (all threads).

    On a shared machine the wall-clock rate moves with other people's load; the per-CPU-second rate of
    the client moves much less, so both are kept.
    """

    count: int
    wall_s: float
    cpu_s: float

    @property
    def per_second(self) -> float:
        return self.count / self.wall_s

    @property
    def per_cpu_second(self) -> float:
        return self.count / self.cpu_s


class _Clock:
    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def rate(self, count: int) -> Rate:
        return Rate(count, time.perf_counter() - self.wall, time.process_time() - self.cpu)
MESSAGE_BYTES = 500
BATCHED = {"linger_ms": 10, "batch_size": 256 * 1024}


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system, all threads) a running process has used so far, from ``/proc``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_result(out: Path, result: dict[str, Any], markdown: Callable[[dict[str, Any]], str]) -> None:
    """A benchmark's result as JSON at ``out`` and as Markdown beside it (also printed)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


def machine() -> dict[str, Any]:
    """What the numbers were measured on (the machine is shared: the load average says how busy)."""
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )
    mem_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:"))
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def software() -> dict[str, str]:
    return {
        "kafka": local_kafka.kafka_version(),
        "clickhouse": local_clickhouse.version(),
        **{pkg: version(pkg) for pkg in ("kafka-python", "aiokafka", "clickhouse-driver")},
    }


def new_topic(bootstrap: str, partitions: int = 6) -> str:
    name = f"bench.baseline.{uuid.uuid4().hex[:10]}"
    ensure_topics(bootstrap, 1, (TopicSpec(name, partitions),))
    return name


def delete_topics(bootstrap: str, names: list[str]) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.delete_topics(names)
    finally:
        admin.close()


def kafka_producer_rate(
    bootstrap: str, topic: str, messages: int = 100_000, size: int = MESSAGE_BYTES, **config: Any
) -> Rate:
    """Messages/s of one kafka-python producer (acks=all) sending `messages` keyed values, flush included."""
    payload = os.urandom(size // 2).hex().encode()[:size]
    keys = [f"000.00.01.H26-250702-{i:04d}".encode() for i in range(1000)]
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", **config)
    producer.partitions_for(topic)  # metadata fetched before the clock starts
    clock = _Clock()
    for i in range(messages):
        producer.send(topic, key=keys[i % 1000], value=payload)
    producer.flush(timeout=300)
    rate = clock.rate(messages)
    producer.close()
    return rate


async def _consume(bootstrap: str, topic: str, messages: int) -> Rate:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, fetch_max_bytes=52_428_800)
    await consumer.start()
    try:
        seen, clock = 0, _Clock()  # connected and assigned; the first fetch is timed
        async with asyncio.timeout(300):
            while seen < messages:
                batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
                seen += sum(len(records) for records in batch.values())
        return clock.rate(seen)
    finally:
        await consumer.stop()


def aiokafka_consumer_rate(bootstrap: str, topic: str, messages: int) -> Rate:
    """Messages/s of one aiokafka consumer reading `messages` from the start of `topic` (no group)."""
    return asyncio.run(_consume(bootstrap, topic, messages))


def event_columns(rows: int) -> list[list[Any]]:
    """Columns shaped like the events table: ids, dossier ids, codes, times, a number."""
    ids = list(range(rows))
    return [
        ids,
        [f"000.00.01.H26-250702-{i:07d}" for i in ids],
        [f"{i % 34 + 1:02d}" for i in ids],
        ["received" if i % 3 else "resolved" for i in ids],
        [1_751_414_400 + i for i in ids],  # 2025-07-02T00:00Z, one a second
        [i % 7 / 3 for i in ids],
    ]


def clickhouse_insert_rate(settings: dict[str, Any], rows: int = 1_000_000, batch: int = 50_000) -> Rate:
    """Rows/s of clickhouse-driver columnar INSERTs of `batch` rows into a fresh MergeTree table."""
    table = f"bench_baseline_{uuid.uuid4().hex[:10]}"
    client = Client(**settings)
    client.execute(
        f"CREATE TABLE {table} (id UInt64, dossier_id String, province LowCardinality(String), "
        f"type LowCardinality(String), occurred_at DateTime, value Float64) ENGINE = MergeTree ORDER BY id"
    )
    try:
        columns = event_columns(batch)
        clock = _Clock()
        for _ in range(rows // batch):
            client.execute(f"INSERT INTO {table} VALUES", columns, columnar=True)
        rate = clock.rate(rows // batch * batch)
        assert client.execute(f"SELECT count() FROM {table}")[0][0] == rate.count
        return rate
    finally:
        client.execute(f"DROP TABLE IF EXISTS {table}")
        client.disconnect()


def _median_of(runs: list[Rate], unit: str) -> dict[str, Any]:
    return {
        "unit": unit,
        "median": round(statistics.median(r.per_second for r in runs)),
        "runs": [round(r.per_second) for r in runs],
        "median_per_client_cpu_second": round(statistics.median(r.per_cpu_second for r in runs)),
    }


def run(repetitions: int = 5, messages: int = 100_000, rows: int = 1_000_000,
        log: Callable[[str], None] = print) -> dict[str, Any]:
    """Every measurement `repetitions` times on the running local stack; medians and raw runs."""
    bootstrap = Settings().bootstrap_servers(1)
    if not local_kafka.cluster_answers(services.kafka_nodes(1)) or not local_clickhouse.answers():
        raise SystemExit("the local stack is not up: run `motcua stack up` first")
    result: dict[str, Any] = {
        "benchmark": "raw baseline: kafka-python producer, aiokafka consumer, clickhouse-driver insert",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "software": software(),
        "config": {"repetitions": repetitions, "message_bytes": MESSAGE_BYTES, "messages_per_run": messages,
                   "acks": "all", "topic_partitions": 6, "replication": 1, "batched_producer": BATCHED,
                   "clickhouse_rows_per_run": rows, "clickhouse_batch_rows": 50_000},
    }
    default_runs: list[Rate] = []
    batched_runs: list[Rate] = []
    consumer_runs: list[Rate] = []
    insert_runs: list[Rate] = []
    topics: list[str] = []
    try:
        for rep in range(repetitions):
            topic = new_topic(bootstrap)
            topics.append(topic)
            default_runs.append(kafka_producer_rate(bootstrap, topic, messages))
            batched_runs.append(kafka_producer_rate(bootstrap, topic, messages, **BATCHED))
            consumer_runs.append(aiokafka_consumer_rate(bootstrap, topic, 2 * messages))
            insert_runs.append(clickhouse_insert_rate(Settings().clickhouse_settings(), rows))
            log(f"run {rep + 1}/{repetitions}: producer {default_runs[-1].per_second:,.0f} msg/s "
                f"(batched {batched_runs[-1].per_second:,.0f}), consumer {consumer_runs[-1].per_second:,.0f} msg/s, "
                f"insert {insert_runs[-1].per_second:,.0f} rows/s; load {os.getloadavg()[0]:.1f}")
    finally:
        delete_topics(bootstrap, topics)
    result["results"] = {
        "kafka_python_producer_acks_all": _median_of(default_runs, "messages/s"),
        "kafka_python_producer_acks_all_batched": _median_of(batched_runs, "messages/s"),
        "aiokafka_consumer": _median_of(consumer_runs, "messages/s"),
        "clickhouse_driver_columnar_insert": _median_of(insert_runs, "rows/s"),
    }
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return result


def markdown(result: dict[str, Any]) -> str:
    m, cfg, res = result["machine"], result["config"], result["results"]
    mib = {k: v["median"] * cfg["message_bytes"] / 2**20 for k, v in res.items() if v["unit"] == "messages/s"}
    lines = [
        "# Raw baseline",
        "",
        f"Measured {result['date']} by `python -m bench.baseline` on {m['nproc']} cores of {m['cpu_model']}, "
        f"{m['memory_gib']} GiB (load average {m['load_average']} at start, {m['load_average_at_end']} at end; "
        "the machine is shared: wall-clock rates move with others' load, so compare them only at a similar "
        "load average, and lean on the per-client-CPU-second rates otherwise). "
        f"Kafka {result['software']['kafka']} single node, ClickHouse {result['software']['clickhouse']}; "
        f"median of {cfg['repetitions']} runs.",
        "",
        "| measurement | median (wall clock) | per client CPU second | runs |",
        "|---|---|---|---|",
    ]
    for name, r in res.items():
        extra = f" ({mib[name]:.1f} MiB/s)" if name in mib else ""
        lines.append(f"| {name} | {r['median']:,} {r['unit']}{extra} | {r['median_per_client_cpu_second']:,} | "
                     f"{', '.join(f'{x:,}' for x in r['runs'])} |")
    lines += [
        "",
        f"- producer: one kafka-python producer, {cfg['messages_per_run']:,} keyed messages of "
        f"{cfg['message_bytes']} bytes per run, acks=all, topic of {cfg['topic_partitions']} partitions, "
        f"flush included; `batched` = {cfg['batched_producer']}, uncompressed.",
        f"- consumer: one aiokafka consumer, no group, reading the {2 * cfg['messages_per_run']:,} messages "
        "of that run's topic from the start, timed from after `start()` (connected, partitions assigned).",
        f"- insert: clickhouse-driver `columnar=True`, {cfg['clickhouse_rows_per_run']:,} rows per run in "
        f"batches of {cfg['clickhouse_batch_rows']:,} (6 columns shaped like events) into a fresh MergeTree.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline", description=__doc__.split("\n")[0])
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=RESULTS / "baseline.json", help="also writes the .md beside it")
    args = parser.parse_args(argv)
    result = run(args.repetitions, args.messages, args.rows)
    write_result(args.out, result, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
