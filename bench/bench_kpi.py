"""Benchmark of the audit path: ``motcua kpi`` over 1,000,000 simulated events, on one core.

Measured in the same run, for the ratio:
  * the raw baseline: reading the same file and parsing every line with orjson, nothing else (the floor for
    any Python reader of JSON lines);
  * ``motcua kpi`` end to end, as a user runs it (a subprocess: start-up, read, validate, order, summarise,
    count, print), with its peak memory.

Run: ``python -m bench.bench_kpi`` (writes ``bench/results/kpi.json`` and ``kpi.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from itertools import islice
from pathlib import Path

import orjson

from producers.output import write_lines
from producers.simulator.stream import Emission, simulate

RESULTS = Path(__file__).parent / "results"
PROVINCES = ["01", "04", "08", "11", "12", "14", "15", "19", "20", "22"]


def dataset(path: Path, target_events: int) -> int:
    """Write (once) a seeded simulator file of about ``target_events`` events; return its line count."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as out:
            lines = write_lines(_events(target_events), out)
        tmp.rename(path)
        return lines
    with path.open("rb") as f:
        return sum(1 for _ in f)


def _events(target: int) -> Iterator[Emission]:
    """The first ``target`` events of a simulated year of ``PROVINCES``."""
    year = simulate(seed=2025, provinces=PROVINCES, start=date(2025, 1, 1), end=date(2026, 1, 1))
    events = list(islice(year, target))
    if len(events) < target:
        raise RuntimeError(f"the simulated year has fewer than {target} events: add provinces")
    return iter(events)


def _cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def raw_baseline(path: Path) -> tuple[float, float]:
    """Wall and CPU seconds to read the file and parse every line with orjson."""
    started, cpu = time.perf_counter(), _cpu_seconds(resource.RUSAGE_SELF)
    for line in path.read_bytes().split(b"\n"):
        if line:
            orjson.loads(line)
    return time.perf_counter() - started, _cpu_seconds(resource.RUSAGE_SELF) - cpu


def day_after_the_data(path: Path) -> date:
    """The local day after the newest event of the (time-ordered) file: the end of the range it covers."""
    tail = path.read_bytes()[-200_000:].split(b"\n")[1:]
    newest = max(orjson.loads(line)["occurred_at"] for line in tail if line.strip())
    return date.fromisoformat(newest[:10]) + timedelta(days=1)


def motcua_kpi(path: Path, period: str, to: date) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and peak RSS (KiB) of ``motcua kpi`` over the range the data covers."""
    motcua = str(Path(sys.executable).parent / "motcua")
    command = [motcua, "kpi", "--events", str(path), "--period", period, "--from", "2025-01-01", "--to", str(to)]
    command += ["--scope", "unit"]
    started, cpu = time.perf_counter(), _cpu_seconds(resource.RUSAGE_CHILDREN)
    result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    elapsed = time.perf_counter() - started
    print(result.stderr.decode().strip().splitlines()[-1], file=sys.stderr)
    cpu = _cpu_seconds(resource.RUSAGE_CHILDREN) - cpu
    return elapsed, cpu, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def machine() -> dict[str, object]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 2**20, 1),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, default=Path("var/bench/kpi-events.jsonl"))
    args = parser.parse_args()
    info = machine()
    lines = dataset(args.data, args.events)
    to = day_after_the_data(args.data)
    runs = []
    for period in ("month", "day"):
        for _ in range(args.repeat):
            raw_wall, raw_cpu = raw_baseline(args.data)
            kpi_wall, kpi_cpu, peak_kib = motcua_kpi(args.data, period, to)
            runs.append(
                {
                    "period": period,
                    "raw_wall_s": raw_wall,
                    "raw_cpu_s": raw_cpu,
                    "kpi_wall_s": kpi_wall,
                    "kpi_cpu_s": kpi_cpu,
                    "peak_rss_mib": round(peak_kib / 1024),
                }
            )
            print(json.dumps(runs[-1]), file=sys.stderr)
    summary = {}
    for period in ("month", "day"):
        mine = [r for r in runs if r["period"] == period]
        summary[period] = {
            "events_per_cpu_second_median": round(lines / statistics.median(r["kpi_cpu_s"] for r in mine)),
            "events_per_wall_second_median": round(lines / statistics.median(r["kpi_wall_s"] for r in mine)),
            "raw_orjson_lines_per_cpu_second_median": round(lines / statistics.median(r["raw_cpu_s"] for r in mine)),
            "ratio_to_raw_cpu_median": round(statistics.median(r["raw_cpu_s"] / r["kpi_cpu_s"] for r in mine), 3),
            "peak_rss_mib": max(r["peak_rss_mib"] for r in mine),
        }
    result = {
        "benchmark": "motcua kpi over 1M simulated events",
        "lines": lines,
        "range": ["2025-01-01", str(to)],
        "machine": info,
        "summary": summary,
        "runs": runs,
        "date": time.strftime("%Y-%m-%d"),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "kpi.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
