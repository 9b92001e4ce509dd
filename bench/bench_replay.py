"""Benchmark of the audit at year scale: a year of a large province through `motcua kpi` and `motcua replay`.

Data: a simulated year of Ho Chi Minh City (seed 2025, province 79, 1,400 dossiers per working day per
3 million inhabitants: ~11 million events), written once to ``var/bench/`` and loaded once into the topic
``bench-replay.dossier.events`` (6 partitions, keyed by dossier id), both reused by later runs.

Measured in the same run, each command as a user runs it (a subprocess; its CPU from ``wait4``, its peak
memory as the sum of the RSS of its process tree, sampled every 50 ms):

* raw baselines: reading the file and ``orjson.loads`` of every line; an aiokafka consumer (no group) reading
  every record of the topic;
* ``motcua kpi --events`` over the year (ratio to the raw orjson baseline, per CPU second);
* ``motcua replay`` of the topic with one and with two workers (speed-up, and the cost of reading Kafka
  against the raw aiokafka reads); its rows must be byte for byte those of ``motcua kpi``;
* against the previous code (``--baseline-rev``, main by default, from ``git archive``): ``motcua kpi`` of the
  first million lines, new and old, for the ratio before and after bounded memory.

Run: ``python -m bench.bench_replay`` (the local stack up); writes ``bench/results/replay.json`` and ``.md``.
``--kpi-only`` measures the before and after part alone (raw orjson, ``motcua kpi`` new and old, of the first
``--baseline-lines`` lines; no Kafka, no year runs) and writes ``bench/results/kpi-speed.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer, TopicPartition

from audit.kafka_range import consumer, log_ranges, stop
from bench.baseline import machine, write_result
from dossier.contract import dossier_key
from wire.partitioner import key_partition
from wire.runtime import aiokafka_producer, use_fast_gzip
from wire.settings import Settings
from wire.topics import Topics, TopicSpec, ensure_topics

RESULTS = Path(__file__).parent / "results"
MOTCUA = str(Path(sys.executable).parent / "motcua")
PREFIX = "bench-replay."
ROWS = ["--period", "month", "--from", "2025-01-01", "--to", "2026-01-01", "--scope", "unit"]
SIMULATION = ["--seed", "2025", "--province-codes", "79", "--rate", "1400", "--from", "2025-01-01", "--to",
              "2026-01-01"]


@dataclass
class Run:
    """One command: wall and CPU seconds, peak memory (MiB: the PSS of its process tree), and its stdout's digest."""

    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    stdout_sha256: str = ""


def _tree_rss(pid: int) -> int:
    """KiB resident in ``pid`` and its descendants, pages shared after ``fork`` counted once (PSS), 0 once gone."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            total += next(int(line.split()[1]) for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines()
                          if line.startswith("Pss:"))
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration):
            continue
    return total


def command(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Run a command to the end, its memory sampled; its stdout hashed (not kept: rows may be large)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(args, stdout=out, stderr=err, env={**os.environ, **(env or {})}, cwd=cwd)
        peak, done = [0], threading.Event()

        def sample() -> None:
            while not done.wait(0.05):
                peak[0] = max(peak[0], _tree_rss(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        sampler.join()
        wall = time.perf_counter() - started
        err.seek(0)
        stderr = err.read().decode(errors="replace")
        if proc.returncode:
            raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{stderr[-3000:]}")
        print(stderr.strip().splitlines()[-1], file=sys.stderr)
        out.seek(0)
        digest = hashlib.sha256(out.read()).hexdigest()
    return Run(wall, usage.ru_utime + usage.ru_stime, round(peak[0] / 1024, 1), digest)


def dataset(path: Path) -> int:
    """The simulated year (written once), and its number of lines."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        subprocess.run([MOTCUA, "produce", "simulate", *SIMULATION, "--to-file", str(tmp), "--no-progress"],
                       check=True)
        tmp.rename(path)
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b""))


def _chunks(path: Path) -> Iterator[list[bytes]]:
    with path.open("rb") as f:
        carry = b""
        for chunk in iter(lambda: f.read(1 << 24), b""):
            lines = (carry + chunk).split(b"\n")
            carry = lines.pop()
            yield lines
        if carry:
            yield [carry]


async def _load(path: Path, topic: str, partitions: int) -> None:
    """Every line to its partition (murmur2 of the dossier id, as the producers), gzip level 1, acks=all."""
    use_fast_gzip()
    producer: AIOKafkaProducer = aiokafka_producer(acks="all", compression_type="gzip", linger_ms=20,
                                                   max_batch_size=512 * 1024)
    await producer.start()
    try:
        pending: list[Any] = []
        for lines in _chunks(path):
            for line in lines:
                key = (dossier_key(line) or "").encode()
                pending.append(await producer.send(topic, line, key=key, partition=key_partition(key, partitions)))
                if len(pending) >= 50_000:
                    await asyncio.gather(*pending)
                    pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def log_of_record(path: Path, lines: int, prefix: str) -> str:
    """The topic holding the year (loaded once: reused when it holds as many records as the file lines)."""
    topic = Topics.with_prefix(prefix).events
    bootstrap = Settings().bootstrap_servers()
    ensure_topics(bootstrap, 1, (TopicSpec(topic, 6, {"retention.ms": "-1"}),))
    _, whole = log_ranges(bootstrap, topic, None)
    held = sum(len(r) for r in whole)
    if held != lines:
        if held:
            raise SystemExit(f"{topic} holds {held:,} records, not the {lines:,} of {path}: delete it first")
        started = time.perf_counter()
        asyncio.run(_load(path, topic, len(whole)))
        print(f"loaded {lines:,} records into {topic} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return topic


def raw_orjson(path: Path) -> Run:
    wall, cpu = time.perf_counter(), time.process_time()
    for lines in _chunks(path):
        for line in lines:
            if line:
                orjson.loads(line)
    return Run(time.perf_counter() - wall, time.process_time() - cpu, 0.0)


def raw_aiokafka(topic: str) -> tuple[Run, int]:
    """An aiokafka consumer of no group reading every record of the topic (values touched), nothing else."""

    async def read() -> int:
        use_fast_gzip()
        client = consumer()
        await client.start()
        try:
            _, whole = log_ranges(Settings().bootstrap_servers(), topic, None)
            tps = [TopicPartition(topic, r.partition) for r in whole]
            client.assign(tps)
            ends = {TopicPartition(topic, r.partition): r.end for r in whole}
            for tp, r in zip(tps, whole, strict=True):
                client.seek(tp, r.start)
            count, size = 0, 0
            todo = set(tps)
            while todo:
                for tp, records in (await client.getmany(*todo, timeout_ms=1000, max_records=20_000)).items():
                    count += len(records)
                    size += sum(len(r.value) for r in records)
                    if records[-1].offset + 1 >= ends[tp]:
                        todo.discard(tp)
            return count
        finally:
            await stop(client)

    wall, cpu = time.perf_counter(), time.process_time()
    count = asyncio.run(read())
    return Run(time.perf_counter() - wall, time.process_time() - cpu, 0.0), count


def baseline_code(rev: str, scratch: Path) -> Path:
    """The source tree of ``rev`` (``git archive``), to run its ``motcua`` with PYTHONPATH."""
    archive = scratch / "baseline.tar"
    subprocess.run(["git", "archive", "-o", str(archive), rev], check=True)
    tree = scratch / "baseline"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def prefix_file(path: Path, lines: int, scratch: Path) -> Path:
    out = scratch / "first.jsonl"
    with path.open("rb") as f, out.open("wb") as o:
        o.writelines(itertools.islice(f, lines))
    return out


def median(runs: list[Run], field: str) -> float:
    return statistics.median(getattr(r, field) for r in runs)


def _ratio(runs: dict[str, list[Run]], raw: str, measured: str) -> float:
    """CPU seconds of the raw baseline / of the command (medians of the same run)."""
    return round(median(runs[raw], "cpu_s") / median(runs[measured], "cpu_s"), 3)


def round_ratios(result: dict[str, Any], raw: str, measured: str) -> str:
    """The ratio of each round (the two commands back to back): how much the host's load moved it."""
    pairs = zip(result["runs"][raw], result["runs"][measured], strict=True)
    return ", ".join(f"{r['cpu_s'] / m['cpu_s']:.3f}" for r, m in pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("var/bench/replay-year-79.jsonl"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-rev", default="main")
    parser.add_argument("--baseline-lines", type=int, default=1_000_000)
    parser.add_argument("--topic-prefix", default=PREFIX)
    parser.add_argument("--kpi-only", action="store_true",
                        help="only motcua kpi of the first --baseline-lines lines, new and old (no Kafka)")
    args = parser.parse_args()
    if args.kpi_only:
        kpi_before_and_after(args)
        return
    info = machine()
    lines = dataset(args.data)
    topic = log_of_record(args.data, lines, args.topic_prefix)
    kpi_cmd = [MOTCUA, "kpi", "--events", str(args.data), *ROWS]
    replay_cmd = [MOTCUA, "replay", "--topic-prefix", args.topic_prefix, "--log-until", "end", "--no-progress", *ROWS]
    runs: dict[str, list[Run]] = {k: [] for k in ("raw_orjson", "kpi", "raw_aiokafka", "replay_1", "replay_2",
                                                  "kpi_1m_new", "kpi_1m_old", "raw_orjson_1m")}
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as scratch_dir:
        before_and_after = _before_and_after(args, Path(scratch_dir))
        for rep in range(args.repeat):
            runs["raw_orjson"].append(raw_orjson(args.data))
            runs["kpi"].append(command(kpi_cmd))
            raw, count = raw_aiokafka(topic)
            assert count == lines, (count, lines)
            runs["raw_aiokafka"].append(raw)
            runs["replay_1"].append(command([*replay_cmd, "--workers", "1"]))
            runs["replay_2"].append(command([*replay_cmd, "--workers", "2"]))
            before_and_after(runs)
            print(orjson.dumps({k: asdict(v[-1]) for k, v in runs.items()}).decode(), file=sys.stderr)
            print(f"run {rep + 1}/{args.repeat} done; load {os.getloadavg()[0]:.1f}", file=sys.stderr)
    digests = {r.stdout_sha256 for k in ("kpi", "replay_1", "replay_2") for r in runs[k]}
    summary = {
        "events": lines,
        "replay_rows_equal_kpi_rows": len(digests) == 1,
        "kpi": {
            "events_per_wall_second": round(lines / median(runs["kpi"], "wall_s")),
            "events_per_cpu_second": round(lines / median(runs["kpi"], "cpu_s")),
            "raw_orjson_lines_per_cpu_second": round(lines / median(runs["raw_orjson"], "cpu_s")),
            "ratio_to_raw_cpu": _ratio(runs, "raw_orjson", "kpi"),
            "peak_rss_mib": max(r.peak_rss_mib for r in runs["kpi"]),
        },
        "replay": {
            "workers_1_events_per_wall_second": round(lines / median(runs["replay_1"], "wall_s")),
            "workers_2_events_per_wall_second": round(lines / median(runs["replay_2"], "wall_s")),
            "workers_2_speedup": round(median(runs["replay_1"], "wall_s") / median(runs["replay_2"], "wall_s"), 2),
            "workers_1_events_per_cpu_second": round(lines / median(runs["replay_1"], "cpu_s")),
            "raw_aiokafka_records_per_wall_second": round(lines / median(runs["raw_aiokafka"], "wall_s")),
            "raw_aiokafka_records_per_cpu_second": round(lines / median(runs["raw_aiokafka"], "cpu_s")),
            "ratio_to_raw_aiokafka_cpu": _ratio(runs, "raw_aiokafka", "replay_1"),
            "ratio_to_raw_orjson_cpu": _ratio(runs, "raw_orjson", "replay_1"),
            "peak_rss_mib_workers_1": max(r.peak_rss_mib for r in runs["replay_1"]),
            "peak_rss_mib_workers_2": max(r.peak_rss_mib for r in runs["replay_2"]),
        },
        "before_and_after": _before_and_after_summary(args, runs),
    }
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result = {
        "benchmark": "motcua kpi and motcua replay over a simulated year of one large province",
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "data": {"file": str(args.data), "simulation": " ".join(SIMULATION), "topic": topic, "rows": " ".join(ROWS)},
        "machine": info,
        "summary": summary,
        "runs": {k: [asdict(r) for r in v] for k, v in runs.items()},
    }
    write_result(RESULTS / "replay.json", result, markdown)


def _before_and_after(args: argparse.Namespace, scratch: Path) -> Callable[[dict[str, list[Run]]], None]:
    """One round of the before and after runs: raw orjson, then ``motcua kpi`` new and old (``--baseline-rev``),
    of the first ``--baseline-lines`` lines (``kpi_1m_*``, ``raw_orjson_1m``); rows by month and unit."""
    old_tree = baseline_code(args.baseline_rev, scratch)
    first = prefix_file(args.data, args.baseline_lines, scratch).resolve()
    small = [MOTCUA, "kpi", "--events", str(first), *ROWS]
    old = [sys.executable, "-c", "from motcua.cli import app; app()", *small[1:]]

    def measure(runs: dict[str, list[Run]]) -> None:
        runs["raw_orjson_1m"].append(raw_orjson(first))
        runs["kpi_1m_new"].append(command(small))
        # run from the old tree: the working directory comes first on sys.path
        runs["kpi_1m_old"].append(command(old, env={"PYTHONPATH": str(old_tree)}, cwd=old_tree))

    return measure


def _before_and_after_summary(args: argparse.Namespace, runs: dict[str, list[Run]]) -> dict[str, Any]:
    return {
        "lines": args.baseline_lines,
        "baseline_rev": args.baseline_rev,
        "raw_orjson_lines_per_cpu_second": round(args.baseline_lines / median(runs["raw_orjson_1m"], "cpu_s")),
        "events_per_cpu_second_new": round(args.baseline_lines / median(runs["kpi_1m_new"], "cpu_s")),
        "events_per_cpu_second_old": round(args.baseline_lines / median(runs["kpi_1m_old"], "cpu_s")),
        "ratio_to_raw_cpu_new": _ratio(runs, "raw_orjson_1m", "kpi_1m_new"),
        "ratio_to_raw_cpu_old": _ratio(runs, "raw_orjson_1m", "kpi_1m_old"),
        "peak_rss_mib_new": max(r.peak_rss_mib for r in runs["kpi_1m_new"]),
        "peak_rss_mib_old": max(r.peak_rss_mib for r in runs["kpi_1m_old"]),
        "rows_equal": len({r.stdout_sha256 for k in ("kpi_1m_new", "kpi_1m_old") for r in runs[k]}) == 1,
    }


def kpi_before_and_after(args: argparse.Namespace) -> None:
    """``--kpi-only``: the before and after runs alone, to ``bench/results/kpi-speed.json`` and ``.md``."""
    info = machine()
    dataset(args.data)
    runs: dict[str, list[Run]] = {k: [] for k in ("raw_orjson_1m", "kpi_1m_new", "kpi_1m_old")}
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as scratch_dir:
        before_and_after = _before_and_after(args, Path(scratch_dir))
        for rep in range(args.repeat):
            before_and_after(runs)
            print(orjson.dumps({k: asdict(v[-1]) for k, v in runs.items()}).decode(), file=sys.stderr)
            print(f"run {rep + 1}/{args.repeat} done; load {os.getloadavg()[0]:.1f}", file=sys.stderr)
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    write_result(RESULTS / "kpi-speed.json", {
        "benchmark": "motcua kpi of the first lines of the simulated year, new and old, against raw orjson",
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "command": "python -m bench.bench_replay " + " ".join(sys.argv[1:]),
        "data": {"file": str(args.data), "simulation": " ".join(SIMULATION), "rows": " ".join(ROWS)},
        "machine": info,
        "summary": _before_and_after_summary(args, runs),
        "runs": {k: [asdict(r) for r in v] for k, v in runs.items()},
    }, kpi_markdown)


def kpi_markdown(result: dict[str, Any]) -> str:
    b, m = result["summary"], result["machine"]
    return "\n".join([
        "# `motcua kpi` before and after, against raw orjson (bench/bench_replay.py --kpi-only)",
        "",
        f"Run: `{result['command']}` on {result['date']}. Data: the first {b['lines']:,} lines of the simulated "
        f"year (`motcua produce simulate {result['data']['simulation']}`). Rows: `{result['data']['rows']}`. "
        f"Medians of {len(result['runs']['kpi_1m_new'])} runs, each round in the same run: raw orjson, then the "
        f"new code, then the old ({b['baseline_rev']}); each command a subprocess, as a user runs it. A reduced run "
        "of the benchmark (no year, no Kafka): bench/results/replay.md stays the full one.",
        "",
        f"Machine: {m['cpu_model']}, {m['nproc']} cores, {m['memory_gib']} GiB, Python {m['python']}; load average "
        f"{m['load_average']} at start, {m['load_average_at_end']} at end (shared with other sessions: CPU seconds "
        "inflate with their load; the ratios of the same run move less).",
        "",
        "| command | events/s (CPU) | ratio to raw, CPU | peak RSS |",
        "|---|---:|---:|---:|",
        f"| raw: file read + `orjson.loads` per line | {b['raw_orjson_lines_per_cpu_second']:,} | 1 | |",
        f"| `motcua kpi --events`, old ({b['baseline_rev']}) | {b['events_per_cpu_second_old']:,} | "
        f"{b['ratio_to_raw_cpu_old']} | {b['peak_rss_mib_old']:,.0f} MiB |",
        f"| `motcua kpi --events`, new | {b['events_per_cpu_second_new']:,} | {b['ratio_to_raw_cpu_new']} | "
        f"{b['peak_rss_mib_new']:,.0f} MiB |",
        "",
        f"- Same rows, byte for byte, in every run: {b['rows_equal']}.",
        f"- Ratio to raw in each round, new: {round_ratios(result, 'raw_orjson_1m', 'kpi_1m_new')}; old: "
        f"{round_ratios(result, 'raw_orjson_1m', 'kpi_1m_old')}.",
        "",
    ])


def markdown(result: dict[str, Any]) -> str:
    s, m = result["summary"], result["machine"]
    k, r, b = s["kpi"], s["replay"], s["before_and_after"]
    return "\n".join([
        "# The audit at year scale (bench/bench_replay.py)",
        "",
        f"Run: `python -m bench.bench_replay` on {result['date']}. Data: {s['events']:,} events, a simulated year "
        f"of one large province (`motcua produce simulate {result['data']['simulation']}`), as a file and as "
        f"the topic `{result['data']['topic']}` (6 partitions). Rows: `{result['data']['rows']}`. Medians of "
        f"{len(result['runs']['kpi'])} runs; each command is a subprocess, as a user runs it; peak RSS is the sum "
        "over its process tree (proportional set size: pages the forked workers share with their parent counted once), "
        "sampled every 50 ms.",
        "",
        f"Machine: {m['cpu_model']}, {m['nproc']} cores, {m['memory_gib']} GiB, Python {m['python']}; load average "
        f"{m['load_average']} at start, {m['load_average_at_end']} at end (shared with other sessions: wall-clock "
        "rates move with their load; the CPU ratios move less).",
        "",
        "| command | events/s (wall) | events/s (CPU) | ratio to raw, CPU | peak RSS |",
        "|---|---:|---:|---:|---:|",
        f"| raw: file read + `orjson.loads` per line | | {k['raw_orjson_lines_per_cpu_second']:,} | 1 | |",
        f"| `motcua kpi --events` | {k['events_per_wall_second']:,} | {k['events_per_cpu_second']:,} | "
        f"{k['ratio_to_raw_cpu']} | {k['peak_rss_mib']:,.0f} MiB |",
        f"| raw: aiokafka consumer, no group | {r['raw_aiokafka_records_per_wall_second']:,} | "
        f"{r['raw_aiokafka_records_per_cpu_second']:,} | | |",
        f"| `motcua replay --workers 1` | {r['workers_1_events_per_wall_second']:,} | "
        f"{r['workers_1_events_per_cpu_second']:,} | {r['ratio_to_raw_orjson_cpu']} (orjson), "
        f"{r['ratio_to_raw_aiokafka_cpu']} (aiokafka) | {r['peak_rss_mib_workers_1']:,.0f} MiB |",
        f"| `motcua replay --workers 2` | {r['workers_2_events_per_wall_second']:,} | | | "
        f"{r['peak_rss_mib_workers_2']:,.0f} MiB |",
        "",
        f"- `motcua kpi`'s ratio to raw in each round: {round_ratios(result, 'raw_orjson', 'kpi')}.",
        f"- `--workers 2` / `--workers 1` (wall clock, same run): **{r['workers_2_speedup']}x** (wanted: >= 1.7x).",
        f"- Peak RSS at {s['events']:,} events: `motcua kpi` {k['peak_rss_mib']:,.0f} MiB, `motcua replay` "
        f"{r['peak_rss_mib_workers_1']:,.0f} MiB (one worker), {r['peak_rss_mib_workers_2']:,.0f} MiB (two; all "
        "processes) (wanted: <= 500 MiB).",
        f"- The replay's rows equal `motcua kpi`'s, byte for byte: {s['replay_rows_equal_kpi_rows']}.",
        f"- Before and after bounded memory, the first {b['lines']:,} lines, same run: ratio to raw "
        f"{b['ratio_to_raw_cpu_old']} before ({b['baseline_rev']}, {b['peak_rss_mib_old']:,.0f} MiB), "
        f"{b['ratio_to_raw_cpu_new']} now ({b['peak_rss_mib_new']:,.0f} MiB); same rows: "
        f"{b['rows_equal']}.",
        "",
    ])


if __name__ == "__main__":
    main()
