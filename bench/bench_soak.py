"""Soak: the whole pipeline at a steady event rate for an hour; memory, CPU, freshness and errors over time.

The same pipeline and load as `bench.bench_freshness` (its functions, not a copy): simulated events at
``--rate`` per second with a clock tick a second into every partition, a probe every ``--probe-every``
seconds, one `motcua streams worker` (or one per stage: ``--split``) and one `motcua sink` on topics and a
database of their own. Every 10 s the RSS and CPU of each process (the workers, the sink, this process that
produces and probes, the Kafka broker and ClickHouse, the last two found by the stack's pid files) are read
from /proc, with the load average and the CPU the whole machine used.

Criteria (each PASS or FAIL in the result): RSS of each process flat within 10% (median of the first
window vs median of the last), freshness p99 <= 2 s in every window, and 0 errors: no process exited, no
ERROR line in the worker's or the sink's log or in what Kafka and ClickHouse logged during the run, no
record on the DLQ, no delivery failure, no refused or retried sink write.

Run: ``python -m bench.bench_soak [--minutes 60] [--rate 1000]`` (writes
``bench/results/soak-<minutes>min.json`` and ``.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from bench.baseline import machine, process_cpu_seconds, software, write_result
from bench.bench_freshness import (
    RESULTS,
    WORKERS_TEXT,
    Load,
    Service,
    _quantiles,
    add_load_arguments,
    pipeline,
    sinks_text,
    watch,
)
from stack import clickhouse as local_clickhouse
from stack import kafka as local_kafka
from stack import services
from stack.procs import pid_file, read_pid_file
from wire.groups import group_lag
from wire.settings import REPO_ROOT, Settings

SAMPLE_EVERY = 10.0
RSS_TOLERANCE = 0.10
FRESHNESS_P99_TARGET = 2.0
ERROR_LINE = re.compile(rb"\bERROR\b|\bCRITICAL\b|<Error>|Traceback")


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) / 1024


def machine_cpu_seconds() -> float:
    """CPU seconds all cores spent not idle since boot (``/proc/stat``, without iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def available_gib() -> float:
    kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemAvailable:"))
    return kib / 1024 / 1024


def stack_pids() -> dict[str, int]:
    """The stack's Kafka broker(s) and ClickHouse that the clients here use, by their pid files."""
    names = [n.name for n in services.kafka_nodes(Settings().kafka_brokers)] + [local_clickhouse.NAME]
    pids = {}
    for name in names:
        running, _ = read_pid_file(pid_file(services.run_dir(), name))
        if running is None:
            raise SystemExit(f"{name} is not running: `motcua stack up` first")
        pids[name] = running.pid
    return pids


@dataclass
class Sampler:
    """Every ``every`` seconds: RSS (MiB) and CPU (% of one core) of each process, load average, machine CPU."""

    pids: dict[str, int]
    min_available_gib: float
    every: float = SAMPLE_EVERY
    aborted: str = ""  # set when the machine ran short of memory: the run stops early (the machine is shared)
    samples: list[dict[str, Any]] = field(default_factory=list)
    exited: dict[str, float] = field(default_factory=dict)  # process -> seconds into the run it was found gone
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.started = time.monotonic()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        last = {name: process_cpu_seconds(pid) for name, pid in self.pids.items()}
        last_machine, last_at = machine_cpu_seconds(), time.monotonic()
        while not self.stop.wait(self.every):
            now = time.monotonic()
            elapsed = now - last_at
            procs: dict[str, dict[str, float]] = {}
            for name, pid in self.pids.items():
                if name in self.exited:
                    continue
                try:
                    cpu, rss = process_cpu_seconds(pid), rss_mib(pid)
                except (OSError, StopIteration):
                    self.exited[name] = round(now - self.started, 1)
                    continue
                procs[name] = {"rss_mib": round(rss, 1), "cpu_pct": round(100 * (cpu - last[name]) / elapsed, 1)}
                last[name] = cpu
            used = machine_cpu_seconds()
            ours = sum(p["cpu_pct"] for p in procs.values())
            busy = 100 * (used - last_machine) / elapsed
            last_machine, last_at = used, now
            available = available_gib()
            if available < self.min_available_gib:
                self.aborted = (f"stopped {now - self.started:.0f} s into the run: the machine had {available:.1f} GiB "
                                f"available, less than --min-available-gib {self.min_available_gib:g}")
            self.samples.append({
                "t": round(now - self.started, 1), "load_average": [round(x, 2) for x in os.getloadavg()],
                "machine_cpu_pct": round(busy, 1), "available_gib": round(available, 2),
                "others_cpu_pct": round(max(0.0, busy - ours), 1),
                "procs": procs,
            })


def log_errors(path: Path, start: int = 0) -> tuple[int, list[str]]:
    """ERROR lines of a log from byte ``start`` on: how many, and the first five."""
    try:
        with path.open("rb") as fh:
            fh.seek(start)
            lines = [line for line in fh if ERROR_LINE.search(line)]
    except OSError:
        return 0, []
    return len(lines), [line.decode(errors="replace").rstrip()[:300] for line in lines[:5]]


def log_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def topic_records(bootstrap: str, topic: str) -> int:
    """Records a topic holds (end minus beginning offsets, summed over partitions)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends, begins = consumer.end_offsets(parts), consumer.beginning_offsets(parts)
        return sum(ends[tp] - begins[tp] for tp in parts)
    finally:
        consumer.close()


def health(url: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return dict(json.load(response))
    except urllib.error.HTTPError as error:  # 503 still carries the JSON
        return dict(json.load(error))
    except OSError as error:
        return {"unreachable": str(error)}


def streams_health_sample(services: list[Service], t: float) -> dict[str, Any]:
    """Every 5 s: how far behind each hop of the streams worker is, and its KPI emissions' pacing, to tell
    which part a freshness episode waited in (``hop_summary``); and what its stages hold, to tell a state that
    fills from a leak."""
    sample: dict[str, Any] = {"t": round(t, 1)}
    for service in services:
        if service.name.startswith("streams"):
            h = health(service.health_url)
            sample[service.name] = {**hop_summary(h.get("consumed") or {}), "kpi_emission": h.get("kpi_emission"),
                                    "commit_running_seconds": h.get("commit_running_seconds"), "held": h.get("held")}
    return sample


def hop_summary(consumed: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, int]]:
    """Per source topic of the worker (the last part of its name), summed over its partitions: ``behind``, the
    records up to the high watermark it last fetched that it has not processed; ``uncommitted``, those
    processed whose offsets are not committed yet."""
    behind, uncommitted = {}, {}
    for topic, partitions in consumed.items():
        hop = topic.rsplit(".", 1)[-1]
        behind[hop] = sum(max(0, p["highwater"] - p["committed"] - p["acked_uncommitted"]) for p in partitions.values())
        uncommitted[hop] = sum(p["acked_uncommitted"] for p in partitions.values())
    return {"behind": behind, "uncommitted": uncommitted}


def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=REPO_ROOT).stdout.strip()

    dirty = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "HEAD") + (" (with uncommitted changes)" if dirty else "")


def windows(load: Load, latencies: list[float], started: float, seconds: float,
            window: float) -> list[dict[str, Any]]:
    """Freshness per window of probing time, by the instant a probe was sent (an unseen probe is counted)."""
    out = []
    for k in range(max(1, round(seconds / window))):
        lo, hi = started + k * window, started + (k + 1) * window
        sent = [i for i, at in enumerate(load.sent_at) if lo <= at < hi]
        seen = [latencies[i] for i in sent if i < len(latencies)]
        out.append({"from_min": round(k * window / 60, 1), "to_min": round((k + 1) * window / 60, 1),
                    "probes_sent": len(sent), "probes_seen": len(seen), **_quantiles("", seen)})
    return out


def rss_flatness(samples: list[dict[str, Any]], window: float, warmup: float) -> dict[str, dict[str, Any]]:
    """Per process: median RSS per window; flat when every window after the first one past the warm-up stays
    within 10% of that one's median (the reference). The warm-up fills what a steady state holds: the JVM
    heap, ClickHouse's caches, the worker's cache of open dossiers (about ten simulated days of them), the
    worker's table page caches (about a simulated month of pages). The samples run ~15 s longer than the
    probing (its warm-up); a tail shorter than half a window is no window: in the 80-minute soak at
    8881b0d its two samples, one ClickHouse swing of 406 MiB among them, made a "window" of 10 s."""
    end = samples[-1]["t"] if samples else 0.0
    out = {}
    for name in sorted({n for s in samples for n in s["procs"]}):
        mine = [(s["t"], s["procs"][name]["rss_mib"]) for s in samples if name in s["procs"]]
        medians = []
        lo = 0.0
        while lo + window / 2 <= end:
            values = [rss for t, rss in mine if lo < t <= lo + window]
            if values:
                medians.append({"from_min": round(lo / 60, 1), "median_mib": round(statistics.median(values), 1)})
            lo += window
        later = [m for m in medians if m["from_min"] * 60 >= warmup]
        if not later:
            continue
        reference = later[0]["median_mib"]
        worst = max((m["median_mib"] - reference for m in later), key=abs)
        cpu = [s["procs"][name]["cpu_pct"] for s in samples if name in s["procs"]]
        out[name] = {"first_window_median_mib": medians[0]["median_mib"], "reference_median_mib": reference,
                     "last_window_median_mib": later[-1]["median_mib"],
                     "change_pct": round(100 * worst / reference, 1), "flat": abs(worst) <= RSS_TOLERANCE * reference,
                     "window_medians": medians, "max_mib": max(rss for _, rss in mine),
                     "cpu_pct_mean": round(statistics.mean(cpu), 1)}
    return out


def _spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": round(statistics.median(values), 2), "max": max(values)} if values else {}


def run(minutes: float, rate: float, probe_every: float, batch_seconds: float, kpi_interval: float,
        batch_within: float, window: float, warmup: float, min_available_gib: float, split: bool,
        archive_batch_seconds: float | None, quiet_seconds: float, worker_nice: int = 0) -> dict[str, Any]:
    seconds = minutes * 60
    server_logs = {node.name: local_kafka.server_log(node) for node in services.kafka_nodes(Settings().kafka_brokers)}
    server_logs[local_clickhouse.NAME] = local_clickhouse.error_log()
    log_starts = {name: log_size(path) for name, path in server_logs.items()}
    with pipeline("soak", batch_seconds, kpi_interval, batch_within, split, archive_batch_seconds,
                  quiet_seconds, worker_nice) as p:
        sampler = Sampler({**{s.name: s.process.pid for s in p.services}, "producer+probes": os.getpid(),
                           **stack_pids()}, min_available_gib)
        load = Load(p.events_topic, rate, probe_every)
        done = threading.Event()
        sampler.thread.start()
        try:
            load.thread.start()
            time.sleep(15)  # warm-up, as bench_freshness
            latencies, on_kafka, watchers = watch(p.database, f"{p.prefix}dossier.kpis", load, done)
            events_before, probing_from = load.events, time.time()
            load.probing.set()
            deadline = time.monotonic() + seconds
            next_report = time.monotonic() + 60
            streams_health: list[dict[str, Any]] = []
            while (left := deadline - time.monotonic()) > 0 and load.thread.is_alive() and not sampler.aborted:
                time.sleep(min(5.0, left))
                streams_health.append(streams_health_sample(p.services, time.time() - probing_from))
                if time.monotonic() < next_report:
                    continue
                next_report += 60
                rss = {n: v["rss_mib"] for n, v in (sampler.samples[-1]["procs"] if sampler.samples else {}).items()}
                print(f"{datetime.now(UTC):%H:%M:%S} {(time.time() - probing_from) / 60:5.1f} min, "
                      f"{load.events:,} events, {len(load.sent_at)} probes, RSS MiB {rss}", flush=True)
            load.probing.clear()
            probing = time.time() - probing_from
            rate_seen = (load.events - events_before) / probing
            done.set()
            for watcher in watchers:
                watcher.join(60)
            streams_behind = group_lag(p.bootstrap, p.events_group, [p.events_topic])
            healths = {s.name: health(s.health_url) for s in p.services}
            dlq = topic_records(p.bootstrap, f"{p.prefix}dossier.dlq")
            sink_health = healths.pop("sink")
            exits = {s.name: code for s in p.services if (code := s.process.poll()) is not None}
        finally:
            load.stop.set()
            load.thread.join(30)
            sampler.stop.set()
            sampler.thread.join(30)
        process_logs = {s.name: log_errors(s.log) for s in p.services}
    logged = {**process_logs, **{name: log_errors(path, log_starts[name]) for name, path in server_logs.items()}}
    streams = [kafka - sent for kafka, sent in zip(on_kafka, load.sent_at, strict=False)]
    per_window = windows(load, latencies, probing_from, probing, window)
    errors = {
        "process_exits": {**exits, **{name: f"gone {t} s into the run" for name, t in sampler.exited.items()}},
        "error_lines": {name: count for name, (count, _) in logged.items()},
        "error_line_examples": {name: examples for name, (_, examples) in logged.items() if examples},
        "dlq_records": dlq,
        "delivery_failures": repr(load.error) if load.error else 0,
        "sink_refused": sink_health.get("refused_total"), "sink_retries": sink_health.get("retries_total"),
    }
    total_errors = (len(errors["process_exits"]) + sum(errors["error_lines"].values()) + dlq + (1 if load.error else 0)
                    + int(sink_health.get("refused_total") or 0) + int(sink_health.get("retries_total") or 0))
    rss = rss_flatness(sampler.samples, window, warmup)
    p99s = [w["p99_s"] for w in per_window]
    fresh_ok = bool(p99s) and all(v is not None and v <= FRESHNESS_P99_TARGET for v in p99s) and all(
        w["probes_seen"] == w["probes_sent"] for w in per_window)
    loads = [s["load_average"][0] for s in sampler.samples]
    return {
        "aborted": sampler.aborted or None,
        "probing_seconds": round(probing, 1), "events_produced": load.events,
        "events_per_second_while_probing": round(rate_seen, 1), "streams_events_behind_at_end": streams_behind,
        "probes_sent": len(load.sent_at), "probes_seen": len(latencies),
        "freshness": _quantiles("", latencies), "freshness_streams_part": _quantiles("", streams),
        "streams_health_status_at_end": {name: h.get("status") for name, h in healths.items()},
        "freshness_per_window": per_window,
        "rss": rss, "errors": errors, "errors_total": total_errors,
        "load_average_1min": _spread(loads),
        "machine_cpu_pct_median": _spread([s["machine_cpu_pct"] for s in sampler.samples]).get("median"),
        "others_cpu_pct_median": _spread([s["others_cpu_pct"] for s in sampler.samples]).get("median"),
        "criteria": {
            "rss_flat_within_10pct": bool(rss) and all(v["flat"] for v in rss.values()),
            "freshness_p99_le_2s_every_window": fresh_ok,
            "zero_errors": total_errors == 0,
            "ran_the_whole_time": not sampler.aborted and probing >= seconds - 1,
        },
        "samples": sampler.samples,
        "streams_health": streams_health,
        # per probe: seconds into the probing when it was sent, and its latency (None: never seen)
        "probes": [[round(at - probing_from, 2), round(latencies[i], 3) if i < len(latencies) else None]
                   for i, at in enumerate(load.sent_at)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_soak", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="probing time after a 15 s warm-up")
    add_load_arguments(parser)
    parser.add_argument("--window-minutes", type=float, default=None,
                        help="freshness and RSS windows (10, or half the run when it is shorter than 20 minutes)")
    parser.add_argument("--warmup-minutes", type=float, default=None,
                        help="RSS: windows starting before this are warm-up (default one window)")
    parser.add_argument("--min-available-gib", type=float, default=3.0,
                        help="stop early (and fail) when the machine's available memory falls below this")
    parser.add_argument("--out", type=Path, default=None, help="default bench/results/soak-<minutes>min.json")
    args = parser.parse_args(argv)
    window = 60 * (args.window_minutes or min(10.0, args.minutes / 2))
    warmup = window if args.warmup_minutes is None else 60 * args.warmup_minutes
    out = args.out or RESULTS / f"soak-{args.minutes:g}min.json"
    result = {
        "benchmark": "soak: the whole pipeline at a steady event rate; RSS, CPU, freshness and errors over time",
        "command": command_line(argv),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": machine(),
        "software": software(),
        "config": {"minutes": args.minutes, "rate": args.rate, "probe_every": args.probe_every,
                   "sink_batch_seconds": args.batch_seconds, "streams_kpi_interval": args.kpi_interval,
                   "streams_batch_within": args.batch_within, "window_minutes": window / 60,
                   "warmup_minutes": warmup / 60,
                   "sample_every_s": SAMPLE_EVERY, "split_stages": args.split,
                   "sink_archive_batch_seconds": args.archive_batch_seconds,
                   "streams_worker_autogroup_nice": args.worker_nice,
                   "sink_batch_quiet_seconds": args.batch_quiet_seconds,
                   "streams_compression": os.environ.get("MOTCUA_STREAMS_COMPRESSION", "gzip")},
        "result": run(args.minutes, args.rate, args.probe_every, args.batch_seconds, args.kpi_interval,
                      args.batch_within, window, warmup, args.min_available_gib, args.split,
                      args.archive_batch_seconds, args.batch_quiet_seconds, args.worker_nice),
        "targets": {"rss": "after the warm-up, every window's median within 10% of the first one's",
                    "freshness": f"p99 <= {FRESHNESS_P99_TARGET:g} s in every window, every probe seen",
                    "errors": "0"},
    }
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    write_result(out, result, markdown)
    return 0 if all(result["result"]["criteria"].values()) else 1


def _verdict(ok: bool) -> str:
    return "**PASS**" if ok else "**FAIL**"


def command_line(argv: list[str] | None) -> str:
    """How the soak was run, with the worker's compression when the environment sets it."""
    words = ["python", "-m", "bench.bench_soak", *(sys.argv[1:] if argv is None else argv)]
    compression = os.environ.get("MOTCUA_STREAMS_COMPRESSION")
    return " ".join(([f"MOTCUA_STREAMS_COMPRESSION={compression}"] if compression else []) + words)


def markdown(result: dict[str, Any]) -> str:
    r, c, m = result["result"], result["config"], result["machine"]
    crit, e, la = r["criteria"], r["errors"], r["load_average_1min"]
    w = f"{c['window_minutes']:g}"
    return "\n".join([
        f"# Soak: {c['minutes']:g} minutes at {c['rate']:,.0f} events/s through the whole pipeline",
        "",
        f"Measured {result['date']} by `{result['command']}` "
        f"at commit {result['commit']}, on {m['nproc']} cores ({m['cpu_model']}), {m['memory_gib']} GiB, shared "
        f"with other sessions' test runs: 1-minute load average {la.get('min')} to {la.get('max')} "
        f"(median {la.get('median')}) during the run; the machine's CPU was {r['machine_cpu_pct_median']}% busy "
        f"(median, 200% = both cores), {r['others_cpu_pct_median']}% of it by processes outside this run. "
        f"Kafka {result['software']['kafka']} (single node), ClickHouse {result['software']['clickhouse']}.",
        "",
        f"Load: {r['events_produced']:,} events ({r['events_per_second_while_probing']:,}/s while probing, "
        f"a clock tick a second into every partition) through {WORKERS_TEXT[bool(c.get('split_stages'))]} and "
        f"{sinks_text(c)}; "
        f"{r['probes_seen']:,} of {r['probes_sent']:,} probes seen (one every {c['probe_every']} s, method of "
        f"`bench.bench_freshness`); at the end the worker had {r['streams_events_behind_at_end']:,} events "
        "not yet committed.",
        *(["", r["recomputed"]] if r.get("recomputed") else []),
        "",
        "| criterion | result | verdict |",
        "|---|---|---|",
        f"| RSS of each process flat within 10% (after {c['warmup_minutes']:g} min of warm-up, every {w}-min "
        "window's median vs the first one's; worst change) | "
        + ", ".join(f"{n} {v['change_pct']:+}%" for n, v in r["rss"].items())
        + f" | {_verdict(crit['rss_flat_within_10pct'])} |",
        f"| freshness p99 <= 2 s in every {w}-minute window | "
        + ", ".join(str(x["p99_s"]) for x in r["freshness_per_window"])
        + f" s | {_verdict(crit['freshness_p99_le_2s_every_window'])} |",
        f"| 0 errors | {r['errors_total']} | {_verdict(crit['zero_errors'])} |",
        f"| ran the whole {c['minutes']:g} minutes | {r['probing_seconds']:,} s of probing"
        f"{'; ' + r['aborted'] if r['aborted'] else ''} | {_verdict(crit['ran_the_whole_time'])} |",
        "",
        "## Memory and CPU (sampled every 10 s from /proc)",
        "",
        f"| process | RSS median, warm-up (MiB) | after it: first {w} min | last {w} min | worst change | "
        "max (MiB) | CPU mean (% of a core) | flat |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
        *(f"| {n} | {v['first_window_median_mib']} | {v['reference_median_mib']} | {v['last_window_median_mib']} | "
          f"{v['change_pct']:+}% | {v['max_mib']} | {v['cpu_pct_mean']} | {'yes' if v['flat'] else 'no'} |"
          for n, v in r["rss"].items()),
        "",
        "Medians per window (MiB): "
        + "; ".join(f"{n}: " + ", ".join(str(m["median_mib"]) for m in v["window_medians"])
                    for n, v in r["rss"].items()),
        "",
        "## Freshness: produced -> KPI row visible in ClickHouse (seconds)",
        "",
        "| window (min) | probes seen / sent | p50 | p90 | p99 | max |",
        "|---|---:|---:|---:|---:|---:|",
        *(f"| {x['from_min']:g}-{x['to_min']:g} | {x['probes_seen']} / {x['probes_sent']} | {x['p50_s']} | "
          f"{x['p90_s']} | {x['p99_s']} | {x['max_s']} |" for x in r["freshness_per_window"]),
        f"| whole run | {r['probes_seen']} / {r['probes_sent']} | {r['freshness']['p50_s']} | "
        f"{r['freshness']['p90_s']} | {r['freshness']['p99_s']} | {r['freshness']['max_s']} |",
        "",
        "## Errors",
        "",
        "| what | count |",
        "|---|---:|",
        f"| processes that exited | {len(e['process_exits'])} {e['process_exits'] if e['process_exits'] else ''} |",
        *(f"| ERROR lines, {n} log{'' if n.startswith(('streams worker', 'sink')) else ' (during the run)'} | {k} |"
          for n, k in e["error_lines"].items()),
        f"| DLQ records | {e['dlq_records']} |",
        f"| delivery failures (producer) | {e['delivery_failures']} |",
        f"| sink: refused rows / retried writes | {e['sink_refused']} / {e['sink_retries']} |",
        "",
        *([f"First ERROR lines: `{json.dumps(e['error_line_examples'])[:1500]}`", ""]
          if e["error_line_examples"] else []),
        "Every 10-s sample (RSS, CPU, load average) is in the JSON file beside this one.",
        "",
    ])


if __name__ == "__main__":
    sys.exit(main())
