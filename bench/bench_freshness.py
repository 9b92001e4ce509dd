"""Freshness: at a steady 1,000 events/s, the time from an event's production to its KPI row being visible
in ClickHouse, end to end (producer -> Kafka -> streams worker -> dossier.kpis -> sink -> ClickHouse).

A streams worker and a sink run as users run them, on topics and a database of their own. Simulated
events of 12 provinces are sent at a steady rate (a clock tick a second into every partition besides, at
the current event time, so that event time advances everywhere). Every
`--probe-every` seconds a probe is sent: the acceptance of a new dossier of a unit that nothing else uses,
at the current event time. The k-th probe is visible when the stored year row of that unit counts k
received dossiers (`max(received)` over the stored rows of the key, polled every 50 ms); its latency is
that instant minus the instant it was handed to the producer.

Run: ``python -m bench.bench_freshness`` (writes ``bench/results/freshness-1000eps.json`` and ``.md``).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
from clickhouse_driver import Client
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from bench.baseline import machine, software, write_result
from dossier import catalog
from dossier.calendar import format_instant
from producers.kafka import LOW_LATENCY, EventProducer
from producers.simulator.rates import Rates
from producers.simulator.stream import simulate, tick
from sinks.config import ROLES as SINK_ROLES
from sinks.migrate import migrate
from stack import services
from streams.config import stage_group_id
from wire.groups import group_lag
from wire.partitioner import key_partition
from wire.settings import Settings
from wire.topics import Topics, ensure_topics

RESULTS = Path(__file__).parent / "results"
MOTCUA = str(Path(sys.executable).parent / "motcua")
PROBE_UNIT = "PROBE.FRESHNESS"
#: The load sleeps once it is this far ahead of its rate: about ten events at a time at 1,000/s, not one
#: (a sleep per event, each waking kafka-python's sender for a request of one or two records, made the load
#: generator cost 444 us of CPU per event: 44% of one of the two cores the pipeline under test runs on).
PACING_STEP = 0.01
PROVINCES = [p.code for p in catalog.provinces()][:12]
#: How often the probe's row is read from ClickHouse. Each read costs the server ~1.7 ms of CPU (measured
#: on this machine): every 20 ms, 8% of a core taken from the pipeline under test. A latency is read at
#: most this much late, never early.
POLL_EVERY = 0.05



def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _probe(k: int, at: int) -> tuple[bytes, bytes]:
    dossier = f"PROBE-{k:06d}"
    event = {
        "schema": "dossier-event/1", "event_id": "probe", "dossier_id": dossier, "type": "accepted",
        "occurred_at": format_instant(at), "source": "bench", "province": "01", "unit": PROBE_UNIT,
        "procedure_code": "PROBE", "online_level": "full", "channel": 2, "due_at": format_instant(at + 10 * 86400),
    }
    return dossier.encode(), orjson.dumps(event)


class Load:
    """Simulated events at `rate` per second of wall time, probes in between; remembers when each probe left."""

    def __init__(self, topic: str, rate: float, probe_every: float) -> None:
        self.topic, self.rate, self.probe_every = topic, rate, probe_every
        self.stop = threading.Event()
        self.probing = threading.Event()
        self.sent_at: list[float] = []
        self.events = 0
        self.error: BaseException | None = None  # what stopped the load early (a DeliveryError, say)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self._produce()
        except BaseException as error:
            self.error = error
            raise

    def _produce(self) -> None:
        # dense enough that event time moves at about a simulated day per 40 wall seconds at 1,000 events/s
        emissions = simulate(seed=7, provinces=PROVINCES, start=date(2025, 3, 3), end=date(2026, 1, 1),
                             rates=Rates(dossiers_per_day=1000.0))
        with EventProducer(self.topic, **{**LOW_LATENCY, "linger_ms": 10}) as producer:
            started = time.monotonic()
            next_probe = next_tick = started
            event_time = 0
            for emission in emissions:
                if self.stop.is_set():
                    break
                event_time = max(event_time, emission.at)
                producer.send(emission.key, emission.value)
                self.events += 1
                now = time.monotonic()
                if now >= next_tick:  # like `motcua produce ticks`: every partition hears event time advance
                    producer.broadcast(tick(event_time))
                    next_tick = now + 1.0
                if self.probing.is_set() and now >= next_probe:
                    key, value = _probe(len(self.sent_at) + 1, event_time)
                    self.sent_at.append(time.time())
                    producer.send(key, value)
                    next_probe = now + self.probe_every
                ahead = started + self.events / self.rate - time.monotonic()
                if ahead > PACING_STEP:
                    time.sleep(ahead)


def poll_visible(database: str, load: Load, done: threading.Event) -> list[float]:
    """Latency of every probe: first instant its count was stored, minus when it was sent. Once ``done`` is
    set, waits up to 30 s more for the probes still in flight."""
    client = Client(**{**Settings().clickhouse_settings(), "database": database})
    seen_at: list[float] = []
    query = ("SELECT max(received) FROM kpis WHERE scope = 'unit' AND period = 'year' "
             f"AND period_start = '2025-01-01' AND scope_id = '{PROBE_UNIT}'")
    give_up: float | None = None
    try:
        while True:
            count = int(client.execute(query)[0][0] or 0)
            now = time.time()
            while len(seen_at) < min(count, len(load.sent_at)):
                seen_at.append(now)
            if done.is_set():
                give_up = give_up or now + 30
                if len(seen_at) >= len(load.sent_at) or now > give_up:
                    break
            time.sleep(POLL_EVERY)
    finally:
        client.disconnect()
    return [seen - sent for seen, sent in zip(seen_at, load.sent_at, strict=False)]


def watch_kpi_topic(topic: str, load: Load, done: threading.Event) -> list[float]:
    """When each probe's count first reached the KPI topic (the streams' produce time of the row): splits
    the latency into the streams' part (sent -> row on Kafka) and the sink's (row on Kafka -> visible)."""
    consumer = KafkaConsumer(bootstrap_servers=Settings().bootstrap_servers(), enable_auto_commit=False)
    key = f"unit/{PROBE_UNIT}/year/2025-01-01".encode()
    # only the partition the worker sends the row to (the default partitioner's): decoding every KPI row in
    # pure Python took CPU from the pipeline under test
    consumer.assign([TopicPartition(topic, key_partition(key, len(consumer.partitions_for_topic(topic))))])
    consumer.seek_to_beginning()
    reached_at: list[float] = []
    give_up: float | None = None
    try:
        while True:
            for records in consumer.poll(timeout_ms=100).values():
                for record in records:
                    if record.key == key and record.value:
                        count = orjson.loads(record.value)["received"]
                        while len(reached_at) < min(count, len(load.sent_at)):
                            reached_at.append(record.timestamp / 1000)
            if done.is_set():
                give_up = give_up or time.time() + 30
                if len(reached_at) >= len(load.sent_at) or time.time() > give_up:
                    break
    finally:
        consumer.close()
    return reached_at


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


#: The streams workers of a pipeline: one with every stage, or one process per stage (``--split``).
WORKERS = {False: ("all",), True: ("dossiers", "kpis")}
WORKERS_TEXT = {False: "one streams worker", True: "two streams workers, one per stage (`--split`)"}


@dataclass(frozen=True)
class Service:
    """One process of the pipeline as users run it: its name, its log, the URL of its health endpoint."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    health_url: str


@dataclass(frozen=True)
class Pipeline:
    """The streams worker(s) and a sink running on topics (``prefix``) and a database of their own."""

    run_id: str
    prefix: str
    database: str
    bootstrap: str
    services: tuple[Service, ...]
    events_group: str  # the consumer group of the streams worker that reads dossier.events

    @property
    def events_topic(self) -> str:
        return f"{self.prefix}dossier.events"


@contextmanager
def pipeline(name: str, batch_seconds: float, kpi_interval: float, batch_within: float,
             split: bool = False, archive_batch_seconds: float | None = None,
             quiet_seconds: float = 0.0, worker_nice: int = 0) -> Iterator[Pipeline]:
    """Start the worker(s) and the sink(s) as users run them, wait until each answers; afterwards stop them
    (SIGTERM) and delete the topics and the database. ``worker_nice`` (not 0): see ``give_cpu_weight``."""
    run_id = uuid.uuid4().hex[:8]
    prefix, database = f"bench.{name}.{run_id}.", f"bench_{name}_{run_id}"
    bootstrap = Settings().bootstrap_servers()
    ensure_topics(bootstrap, 1, Topics.with_prefix(prefix).specs())
    client = Client(**Settings().clickhouse_settings())
    migrate(client, database)
    logs = services.home() / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    app_id = f"{prefix}streams"
    started: list[Service] = []
    try:
        for stages in WORKERS[split]:
            port, datadir = services.free_port(), logs / f"streams-{run_id}-{stages}"
            datadir.mkdir(parents=True, exist_ok=True)
            env = {**os.environ, "MOTCUA_STREAMS_TOPIC_PREFIX": prefix, "MOTCUA_STREAMS_APP_ID": app_id,
                   "MOTCUA_STREAMS_STAGES": stages, "MOTCUA_STREAMS_WEB_PORT": str(port),
                   "MOTCUA_STREAMS_DATADIR": str(datadir), "MOTCUA_STREAMS_KPI_INTERVAL": str(kpi_interval),
                   "MOTCUA_STREAMS_BATCH_WITHIN": str(batch_within), "MOTCUA_STREAMS_LOGLEVEL": "warning"}
            log = logs / f"streams-{run_id}-{stages}.log"
            worker = subprocess.Popen([MOTCUA, "streams", "worker"], env=env, stdout=subprocess.DEVNULL,
                                      stderr=log.open("wb"), start_new_session=worker_nice != 0)
            started.append(Service(f"streams worker{'' if stages == 'all' else ' (' + stages + ')'}", worker,
                                   log, f"http://127.0.0.1:{port}/health/"))
            if worker_nice:
                give_cpu_weight(worker.pid, worker_nice)
        for sink_name, topics, seconds, quiet in _sinks(batch_seconds, archive_batch_seconds, quiet_seconds):
            slug = sink_name.replace(" ", "-")
            sink_port, sink_log = services.free_port(), logs / f"{slug}-{run_id}.log"
            started.append(Service(sink_name, subprocess.Popen(
                [MOTCUA, "sink", "--topic-prefix", prefix, "--group", f"{prefix}{slug}",
                 "--database", database, "--health-port", str(sink_port), "--batch-seconds", str(seconds),
                 "--batch-quiet-seconds", str(quiet), "--topics", topics],
                stdout=subprocess.DEVNULL, stderr=sink_log.open("wb")), sink_log,
                f"http://127.0.0.1:{sink_port}/health"))
        deadline = time.monotonic() + 120
        while not all(_answers(s.health_url) for s in started):
            if time.monotonic() > deadline or any(s.process.poll() is not None for s in started):
                raise SystemExit(f"a streams worker or the sink did not start; logs in {logs}")
            time.sleep(0.5)
        events_group = stage_group_id(app_id, WORKERS[split][0])
        yield Pipeline(run_id, prefix, database, bootstrap, tuple(started), events_group)
    finally:
        for service in started:
            service.process.send_signal(signal.SIGTERM)
        for service in started:
            try:
                service.process.wait(60)
            except subprocess.TimeoutExpired:
                service.process.kill()
        client.execute(f"DROP DATABASE IF EXISTS {database}")
        client.disconnect()
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            admin.delete_topics([t for t in admin.list_topics() if t.startswith(prefix)])
        finally:
            admin.close()


def give_cpu_weight(pid: int, nice: int) -> None:
    """Set the nice value of a session leader's autogroup (Linux; lowering it needs root or CAP_SYS_NICE).

    With autogroups on (the default), the scheduler shares the CPU between sessions first: a process's own
    nice value only counts against the processes of its session, and Kafka and ClickHouse run in sessions of
    their own. The autogroup's nice weighs the whole session against them, as ``cpu_shares`` weighs a
    container. Raises SystemExit when it cannot be set: a run must not silently measure something else.
    """
    try:
        Path(f"/proc/{pid}/autogroup").write_text(f"{nice}\n")
    except OSError as error:
        raise SystemExit(f"cannot set the streams worker's autogroup nice to {nice}: {error}") from None


def _sinks(batch_seconds: float, archive_batch_seconds: float | None,
           quiet_seconds: float) -> list[tuple[str, str, float, float]]:
    """(name, --topics, --batch-seconds, --batch-quiet-seconds) of each sink: one for every topic, or
    (``archive_batch_seconds`` given) the KPI rows and alerts in batches of ``batch_seconds`` and the rest in
    larger ones. ClickHouse's cost is mostly per insert (a part per table, then its merges), not per row.
    The sink of the KPI rows also writes a batch once quiet for ``quiet_seconds``."""
    if archive_batch_seconds is None:
        return [("sink", ",".join(SINK_ROLES), batch_seconds, quiet_seconds)]
    return [("sink", "kpis,alerts", batch_seconds, quiet_seconds),
            ("sink archive", "events,transitions,dlq", archive_batch_seconds, 0.0)]


def sinks_text(config: dict[str, Any]) -> str:
    """The sinks of a result's ``config``, in words."""
    archive = config.get("sink_archive_batch_seconds")
    quiet = config.get("sink_batch_quiet_seconds") or 0
    kpi_batches = f"batches of {config['sink_batch_seconds']} s" + (f" or {quiet} s quiet" if quiet else "")
    if archive is None:
        return f"one sink ({kpi_batches})"
    return (f"two sinks (the KPI rows and alerts in {kpi_batches}, the events, "
            f"transitions and DLQ in batches of {archive} s)")


def watch(database: str, kpi_topic: str, load: Load,
          done: threading.Event) -> tuple[list[float], list[float], list[threading.Thread]]:
    """Start both watchers of the probes: (latencies to ClickHouse, instants on the KPI topic), filled in
    until ``done`` is set and the watcher threads (returned as well) end."""
    latencies: list[float] = []
    on_kafka: list[float] = []
    watchers = [
        threading.Thread(target=lambda: latencies.extend(poll_visible(database, load, done)), daemon=True),
        threading.Thread(target=lambda: on_kafka.extend(watch_kpi_topic(kpi_topic, load, done)), daemon=True),
    ]
    for watcher in watchers:
        watcher.start()
    return latencies, on_kafka, watchers


def run(rate: float, seconds: float, probe_every: float, batch_seconds: float, kpi_interval: float,
        batch_within: float, split: bool, archive_batch_seconds: float | None,
        quiet_seconds: float, worker_nice: int = 0) -> dict[str, Any]:
    with pipeline("fresh", batch_seconds, kpi_interval, batch_within, split, archive_batch_seconds,
                  quiet_seconds, worker_nice) as p:
        load = Load(p.events_topic, rate, probe_every)
        done = threading.Event()
        try:
            load.thread.start()
            time.sleep(15)  # warm-up: steady state before the first probe
            latencies, on_kafka, watchers = watch(p.database, f"{p.prefix}dossier.kpis", load, done)
            events_before = load.events
            load.probing.set()
            time.sleep(seconds)
            load.probing.clear()
            rate_seen = (load.events - events_before) / seconds
            done.set()
            for watcher in watchers:
                watcher.join(60)
            streams_behind = group_lag(p.bootstrap, p.events_group, [p.events_topic])
        finally:
            load.stop.set()
            load.thread.join(30)
    streams = [kafka - sent for kafka, sent in zip(on_kafka, load.sent_at, strict=False)]
    sink = [latency - part for latency, part in zip(latencies, streams, strict=False)]
    return {
        "probes_sent": len(load.sent_at), "probes_seen": len(latencies),
        "events_sent_during_probing_per_second": round(rate_seen, 1),
        "streams_events_behind_at_end": streams_behind,
        **_quantiles("", latencies),
        **_quantiles("streams_part_", streams),
        **_quantiles("sink_part_", sink),
        "latencies_s": [round(x, 3) for x in latencies],
    }


def _quantiles(prefix: str, values: list[float]) -> dict[str, float | None]:
    if not values:
        return {f"{prefix}{q}_s": None for q in ("p50", "p90", "p99", "max")}
    return {f"{prefix}p50_s": round(statistics.median(values), 3), f"{prefix}p90_s": round(percentile(values, 0.9), 3),
            f"{prefix}p99_s": round(percentile(values, 0.99), 3), f"{prefix}max_s": round(max(values), 3)}


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the load and of the pipeline's latency settings (bench_soak has them too)."""
    parser.add_argument("--rate", type=float, default=1000.0, help="events/s")
    parser.add_argument("--probe-every", type=float, default=0.5)
    parser.add_argument("--batch-seconds", type=float, default=0.25, help="the sink's --batch-seconds")
    parser.add_argument("--batch-quiet-seconds", type=float, default=0.03,
                        help="the KPI rows' sink's --batch-quiet-seconds (0: off)")
    parser.add_argument("--kpi-interval", type=float, default=0.5, help="MOTCUA_STREAMS_KPI_INTERVAL")
    parser.add_argument("--batch-within", type=float, default=0.1, help="MOTCUA_STREAMS_BATCH_WITHIN")
    parser.add_argument("--split", action="store_true",
                        help="one streams worker per stage (MOTCUA_STREAMS_STAGES=dossiers, then kpis)")
    parser.add_argument("--archive-batch-seconds", type=float, default=None,
                        help="two sinks: the KPI rows and alerts in batches of --batch-seconds, events, transitions "
                             "and the DLQ in batches of this many seconds (default: one sink, every topic)")
    parser.add_argument("--worker-nice", type=int, default=0,
                        help="the streams workers in sessions of their own whose autogroup nice is this (for "
                             "example -5: more CPU weight than Kafka's, ClickHouse's and the load's sessions; "
                             "Linux, root; 0: off)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_freshness", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="probing time after a 15 s warm-up")
    add_load_arguments(parser)
    parser.add_argument("--out", type=Path, default=RESULTS / "freshness-1000eps.json")
    args = parser.parse_args(argv)
    info = machine()
    result = {
        "benchmark": "freshness: event produced -> its KPI row visible in ClickHouse, at a steady event rate",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": info,
        "software": software(),
        "config": {"rate": args.rate, "seconds": args.seconds, "probe_every": args.probe_every,
                   "sink_batch_seconds": args.batch_seconds, "streams_kpi_interval": args.kpi_interval,
                   "streams_batch_within": args.batch_within, "split_stages": args.split,
                   "sink_archive_batch_seconds": args.archive_batch_seconds,
                   "streams_worker_autogroup_nice": args.worker_nice,
                   "sink_batch_quiet_seconds": args.batch_quiet_seconds,
                   "streams_compression": os.environ.get("MOTCUA_STREAMS_COMPRESSION", "gzip")},
        "result": run(args.rate, args.seconds, args.probe_every, args.batch_seconds, args.kpi_interval,
                      args.batch_within, args.split, args.archive_batch_seconds, args.batch_quiet_seconds,
                      args.worker_nice),
        "target": "p99 <= 2 s",
    }
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    write_result(args.out, result, markdown)
    return 0


def markdown(result: dict[str, Any]) -> str:
    r, c, m = result["result"], result["config"], result["machine"]
    return "\n".join([
        "# Freshness at a steady event rate",
        "",
        f"Measured {result['date']} by `python -m bench.bench_freshness` on {m['nproc']} cores "
        f"(load average {m['load_average']} at start, {m['load_average_at_end']} at end; shared machine). "
        f"Kafka {result['software']['kafka']}, ClickHouse {result['software']['clickhouse']}.",
        "",
        f"Load: {c['rate']:,.0f} simulated events/s (measured {r['events_sent_during_probing_per_second']:,}/s) "
        f"through {WORKERS_TEXT[bool(c.get('split_stages'))]} (KPI interval {c['streams_kpi_interval']} s, "
        "batches within "
        f"{c['streams_batch_within']} s) and {sinks_text(c)}. "
        f"{r['probes_seen']} of {r['probes_sent']} probes seen, one every "
        f"{c['probe_every']} s for {c['seconds']:.0f} s after a 15 s warm-up; at the end the streams worker had "
        f"{r['streams_events_behind_at_end']:,} events of dossier.events not yet committed.",
        "",
        "| seconds | produced -> KPI row visible in ClickHouse | of which: produced -> row on dossier.kpis "
        "(streams) | row on dossier.kpis -> visible (sink) |",
        "|---|---|---|---|",
        *(f"| {q} | {r[f'{q}_s']} | {r[f'streams_part_{q}_s']} | {r[f'sink_part_{q}_s']} |"
          for q in ("p50", "p90", "p99", "max")),
        "",
        f"Target: {result['target']}.",
        "",
    ])


if __name__ == "__main__":
    sys.exit(main())
