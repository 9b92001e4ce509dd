"""Benchmark of the dashboards' panel queries on a year of two provinces (~10 million events), ClickHouse 18.16.

Load (once; reused while the database holds it): the simulator's year 2025 of provinces 01 and 79 at
``--dossiers-per-day`` (per 3 million inhabitants; 820 gives ~10 million events), dossier by dossier in
chunks of days. Each chunk's events, transitions and alerts are made by the domain core exactly as the
sink tests make them (``tests.sinks.pipeline``: the streams' functions, timers fired up to the end of
the year) and inserted through the sink's processors and writer; the KPI rows of every scope and period
kind (day, month, quarter, year) are counted incrementally (``dossier.kpi.KpiTable``) and inserted
last, one final row per key (what the table holds once merged). Not the live pipeline: it would take
the streams ~50 minutes per 10 million events on this machine.

Then, in the same run:
  * the raw baseline: ``SELECT count() FROM events`` and ``SELECT count() FROM kpis``, trivial reads of
    the same tables, timed like the panels;
  * every panel and variable query of every dashboard, expanded as Grafana would for the dashboard's own
    default range at 17:00 on 2025-12-31 (the health screen: the last hour of wall time, when the load
    wrote its ``sink_batches``), for All and for province 79: ``--runs`` times each, p50 and p95 (a panel
    showing another panel's result, Grafana's Dashboard datasource, sends no query: listed, not timed);
  * the wall screen: 34 provincial screens, each refreshing the province dashboard's panels every 10 s
    (the screens alternate between the two loaded provinces, so each query reads a province's year),
    for ``--seconds``; ClickHouse's CPU from /proc, the queries' latency, refreshes that overran;
  * what keeping ``open_dossiers`` costs the sink (``sinks.open_dossiers``): ClickHouse's CPU for the
    snapshot after a batch of one minute's transitions (the live pipeline) and of one day's (a backfill's
    batch), and for a sweep of what they left.

Run: ``python -m bench.bench_panels`` (writes ``bench/results/panels.json`` and ``panels.md``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from clickhouse_driver import Client

from bench.baseline import machine, process_cpu_seconds, software, write_result
from dashboards.check import check_dashboard
from dashboards.provisioning import dashboard_json
from dashboards.screen.timerange import time_range
from dashboards.screens import BUILDERS, UIDS
from dossier.calendar import day_number, day_start, default_calendar, format_instant
from dossier.kpi import SCOPES, KpiTable
from dossier.lifecycle import in_state_machine_order, summarize
from dossier.periods import periods_overlapping
from producers.simulator.model import ProvinceModel, day_dossiers
from producers.simulator.rates import Rates
from producers.simulator.stream import dossier_records
from producers.simulator.workclock import WorkClock
from sinks import open_dossiers
from sinks.migrate import migrate
from stack import services
from tests.sinks.pipeline import Record, batch_of, event_log, event_records, land, transition_and_alert_records
from wire.settings import Settings

RESULTS = Path(__file__).parent / "results"
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
PROVINCES = ["01", "79"]
YEAR = (date(2025, 1, 1), date(2026, 1, 1))
WATERMARK = day_start(day_number(YEAR[1]))
NOW = datetime(2025, 12, 31, 17, 0, tzinfo=LOCAL)  # the wall screen's "now"
CHUNK_DAYS = 7
PERIODS = ("day", "month", "quarter", "year")
P95_TARGET_MS = 200.0
SCREENS, REFRESH_S = 34, 10.0
ALONE_REFRESHES = 6  # one screen's refreshes run one after another, for ClickHouse's CPU per refresh


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# loading ---------------------------------------------------------------------------------------------------

def _chunks(per_day: float, seed: int) -> Iterator[list[bytes]]:
    """Every dossier of the year, complete (its events up to the year's end), a few days at a time."""
    models = [ProvinceModel(seed, code, 10, Rates(dossiers_per_day=per_day)) for code in PROVINCES]
    clock = WorkClock()
    start, end = day_start(day_number(YEAR[0])), WATERMARK
    days = list(range(day_number(YEAR[0]), day_number(YEAR[1])))
    for i in range(0, len(days), CHUNK_DAYS):
        lines = [value for day in days[i:i + CHUNK_DAYS] for model in models
                 for dossier in day_dossiers(seed, model, clock, day)
                 for _at, value in dossier_records(dossier, start, end)]
        yield lines


def _kpi_records(tables: dict[str, KpiTable]) -> list[Record]:
    records: list[Record] = []
    for table in tables.values():
        for scope in SCOPES:
            for row in table.rows(scope):
                record = {"schema": "kpi-row/1", **row, "provisional": False,
                          "watermark": format_instant(WATERMARK)}
                key = f"{row['scope']}/{row['scope_id']}/{row['period']}/{row['period_start']}".encode()
                records.append((key, orjson.dumps(record)))
    return records


def load(settings: dict[str, Any], database: str, per_day: float, seed: int) -> dict[str, Any]:
    """The year into ``database`` through the sink's writer; what was loaded and how long it took."""
    calendar = default_calendar()
    tables = {p: KpiTable(periods_overlapping(p, *YEAR), calendar) for p in PERIODS}  # type: ignore[arg-type]
    started, events, transitions, alerts = time.perf_counter(), 0, 0, 0
    for lines in _chunks(per_day, seed):
        moved, fired = transition_and_alert_records(lines, WATERMARK)
        land(settings, database, batch_of({"events": event_records(lines), "transitions": moved, "alerts": fired}))
        for by_id in event_log(lines).by_dossier.values():
            summary = summarize(in_state_machine_order(by_id.values()), calendar)
            if summary is not None:
                for table in tables.values():
                    table.add(summary)
        events, transitions, alerts = events + len(lines), transitions + len(moved), alerts + len(fired)
        print(f"  loaded {events:,} events, {transitions:,} transitions "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
    kpis = _kpi_records(tables)
    land(settings, database, batch_of({"kpis": kpis}))
    return {"events": events, "transitions": transitions, "alerts": alerts, "kpi_rows": len(kpis),
            "dossiers_per_day": per_day, "seed": seed, "seconds": round(time.perf_counter() - started, 1)}


def open_dossiers_check(client: Client, database: str) -> dict[str, Any]:
    """``open_dossiers_current`` against ``dossiers_current``'s dossiers not finished, row for row."""
    columns = "dossier_id, province, unit, procedure_code, procedure_field, officer, standing, since, due_at"
    kept = client.execute(f"SELECT {columns} FROM {database}.open_dossiers_current ORDER BY dossier_id")
    every = client.execute(f"SELECT {columns} FROM {database}.dossiers_current WHERE standing != 'finished' "
                           "ORDER BY dossier_id")
    return {"open_dossiers": len(kept), "dossiers_current_open": len(every), "equal": kept == every}


def loaded(client: Client, database: str) -> dict[str, int]:
    tables = ("events", "transitions", "dossiers", "open_dossiers", "scopes", "kpis", "alerts", "sink_batches")
    return {t: client.execute(f"SELECT count() FROM {database}.{t}")[0][0] for t in tables}


# timing ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Query:
    dashboard: str
    what: str
    title: str
    sql: str  # "" for a panel showing another panel's result
    selection: str
    shares: int | None = None


def dashboard_queries(client: Client, busiest: str) -> list[Query]:
    """Every query of every dashboard as Grafana would send it, for All and for province 79."""
    out = []
    for key in BUILDERS:
        board = dashboard_json(key)
        now = datetime.now(LOCAL) if key == "health" else NOW
        start, end = time_range(board["time"]["from"], board["time"]["to"], now, LOCAL)
        for label, selection in (("All", {}), ("79", {"province": ["79"]})):
            chosen = {**selection, "dossier_id": [busiest]}
            for o in check_dashboard(client, board, start, end, chosen):
                if o.error:
                    raise RuntimeError(f"{key} {o.what} {o.title}: {o.error}")
                out.append(Query(UIDS[key], o.what, o.title, o.sql, label, o.shares))
    return out


def server_pid() -> int:
    return int(orjson.loads((services.run_dir() / "clickhouse.pid").read_text())["pid"])


def timed(client: Client, sql: str, runs: int) -> dict[str, float]:
    """Wall p50/p95/max over ``runs`` (after a warm-up: Grafana's next refresh finds the data cached) and the
    server's CPU milliseconds per run, which the other sessions on this machine do not move (they run their
    own servers)."""
    client.execute(sql)
    times = []
    cpu = process_cpu_seconds(server_pid())
    for _ in range(runs):
        started = time.perf_counter()
        client.execute(sql)
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(statistics.median(times), 2), "p95_ms": round(_percentile(times, 0.95), 2),
            "max_ms": round(max(times), 2),
            "cpu_ms": round((process_cpu_seconds(server_pid()) - cpu) * 1000 / runs, 1)}


# the wall screens --------------------------------------------------------------------------------------------

def wall_screens(settings: dict[str, Any], seconds: float, workers: int) -> dict[str, Any]:
    """34 screens refreshing the province dashboard's panels every 10 s, through ``workers`` connections."""
    board = dashboard_json("province")
    start, end = time_range(board["time"]["from"], board["time"]["to"], NOW, LOCAL)
    probe = Client(**settings)
    sqls = {code: [o.sql for o in check_dashboard(probe, board, start, end, {"province": [code]})
                   if o.what.startswith("panel") and o.shares is None] for code in PROVINCES}
    probe.disconnect()
    local = threading.local()
    latencies: list[float] = []
    late: list[float] = []
    errors: list[str] = []

    def run(sql: str, due: float) -> None:
        client = getattr(local, "client", None) or Client(**settings)
        local.client = client
        try:
            client.execute(sql)
        except Exception as error:  # counted, the load goes on
            errors.append(str(error).splitlines()[0])
        done = time.monotonic()
        latencies.append((done - due) * 1000)

    server = server_pid()
    alone = Client(**settings)  # one screen's refresh at a time: ClickHouse CPU seconds, whatever else runs
    cpu_start = process_cpu_seconds(server)
    for k in range(ALONE_REFRESHES):
        for sql in sqls[PROVINCES[k % len(PROVINCES)]]:
            alone.execute(sql)
    per_refresh = (process_cpu_seconds(server) - cpu_start) / ALONE_REFRESHES
    alone.disconnect()
    cpu0, wall0 = process_cpu_seconds(server), time.monotonic()
    stat0 = _machine_cpu()
    refreshes = submitted = 0
    pool = ThreadPoolExecutor(max_workers=workers)
    t0 = time.monotonic()
    schedule = sorted((t0 + i * REFRESH_S / SCREENS + k * REFRESH_S, i) for i in range(SCREENS)
                      for k in range(int(seconds // REFRESH_S)))
    for due, screen in schedule:
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            late.append(-delay)
        for sql in sqls[PROVINCES[screen % len(PROVINCES)]]:
            pool.submit(run, sql, due)
            submitted += 1
        refreshes += 1
    time.sleep(max(0.0, t0 + seconds - time.monotonic()))
    wall = time.monotonic() - wall0  # the window; queries still queued then are dropped, not waited for
    cpu = process_cpu_seconds(server) - cpu0
    busy, total = (a - b for a, b in zip(_machine_cpu(), stat0, strict=True))
    pool.shutdown(wait=True, cancel_futures=True)
    queries = len(latencies)  # answered (some after the window: their CPU is not counted)
    return {"screens": SCREENS, "refresh_s": REFRESH_S, "panels_per_screen": len(board["panels"]),
            "queries_per_screen": len(sqls[PROVINCES[0]]),
            "clickhouse_cpu_seconds_per_refresh": round(per_refresh, 3),
            "projected_cores": round(per_refresh * SCREENS / REFRESH_S, 2),
            "seconds": round(wall, 1), "refreshes": refreshes, "queries": queries,
            "queries_per_second": round(queries / wall, 1), "workers": workers, "errors": len(errors),
            "clickhouse_cpu_cores": round(cpu / wall, 3), "clickhouse_cpu_share_of_machine":
            round(cpu / wall / (len(_machine_cpu_cores()) or 1), 3),
            "machine_busy_share": round(busy / total, 3) if total else None,
            "latency_p50_ms": round(statistics.median(latencies), 1),
            "latency_p95_ms": round(_percentile(latencies, 0.95), 1),
            "latency_max_ms": round(max(latencies), 1), "refreshes_started_late": len(late),
            "queries_submitted": submitted, "queries_dropped_at_the_end": submitted - queries}


# open_dossiers' upkeep ----------------------------------------------------------------------------------------

UPKEEP_BATCHES = {  # what a batch of the sink holds: one minute of the live pipeline, one day of a backfill
    "one minute (live)": ("2025-12-30 09:00:00", "2025-12-30 09:01:00"),
    "one day (backfill)": ("2025-12-30 00:00:00", "2025-12-31 00:00:00"),
}


def upkeep(client: Client, database: str, runs: int) -> list[dict[str, Any]]:
    """ClickHouse CPU of the snapshot the sink writes after a batch, for batches of stored transitions, and of
    the sweep that then deletes what they left closed (most of those dossiers are finished)."""
    server, out = server_pid(), []
    for label, (start, end) in UPKEEP_BATCHES.items():
        touched = [(d, int(a)) for d, a in client.execute(
            "SELECT dossier_id, toUInt32(minIf(at, kind = 'accepted')) FROM transitions "
            f"WHERE at >= toDateTime('{start}') AND at < toDateTime('{end}') "
            f"AND kind IN {tuple(sorted(open_dossiers.STANDING_KINDS))} GROUP BY dossier_id")]
        transitions = client.execute(f"SELECT count() FROM transitions WHERE at >= toDateTime('{start}') "
                                     f"AND at < toDateTime('{end}')")[0][0]
        cpu, started = process_cpu_seconds(server), time.perf_counter()
        for _ in range(runs):
            open_dossiers.snapshot(client, database, touched)
        snapshot = ((process_cpu_seconds(server) - cpu) * 1000 / runs, (time.perf_counter() - started) * 1000 / runs)
        cpu, started = process_cpu_seconds(server), time.perf_counter()
        open_dossiers.Sweeper(database, keep_closed=0).finish(client, timeout=120)
        sweep = ((process_cpu_seconds(server) - cpu) * 1000, (time.perf_counter() - started) * 1000)
        out.append({"batch": label, "transitions": transitions, "dossiers": len(touched),
                    "snapshot_cpu_ms": round(snapshot[0], 1), "snapshot_wall_ms": round(snapshot[1], 1),
                    "sweep_cpu_ms": round(sweep[0], 1), "sweep_wall_ms": round(sweep[1], 1)})
        print(f"  upkeep {label}: {out[-1]}", flush=True)
    return out


def _machine_cpu() -> tuple[int, int]:
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def _machine_cpu_cores() -> list[str]:
    return [line for line in Path("/proc/stat").read_text().splitlines() if line[:3] == "cpu" and line[3:4].isdigit()]


# result ----------------------------------------------------------------------------------------------------

def _sharing(shared: list[dict[str, Any]]) -> list[str]:
    """'<dashboard> panels 2, 3, ... show panel 1's result', once per dashboard and source panel."""
    by_source: dict[tuple[str, int], set[int]] = {}
    for p in shared:
        by_source.setdefault((p["dashboard"], p["shares"]), set()).add(int(p["what"].split()[-1]))
    return [f"{dashboard} panels {', '.join(map(str, sorted(ids)))} show panel {source}'s result"
            for (dashboard, source), ids in sorted(by_source.items())]


def markdown(r: dict[str, Any]) -> str:
    m, w = r["machine"], r["wall_screens"]
    worst = max(r["panels"], key=lambda p: p["p95_ms"])
    over = [p for p in r["panels"] if p["p95_ms"] > P95_TARGET_MS]
    lines = [
        "# Dashboards' panel queries on a year of two provinces (bench/bench_panels.py)", "",
        f"Run: `python -m bench.bench_panels` on {r['date']}. ClickHouse {r['software']['clickhouse']} (local stack).",
        f"Machine: {m['cpu_model']}, {m['nproc']} cores, {m['memory_gib']} GiB, Python {m['python']}; "
        f"load average at start {', '.join(map(str, m['load_average']))}, at the end "
        f"{', '.join(map(str, r['load_average_end']))} (a shared machine: other sessions' tests and benchmarks).", "",
        f"Data: {r['load']['events']:,} events of provinces 01 and 79 over 2025 (simulator, "
        f"{r['load']['dossiers_per_day']} dossiers per working day and 3 million inhabitants); tables: "
        + ", ".join(f"{t} {n:,}" for t, n in r["tables"].items()) + ". "
        + (f"Loaded through the sink's writer in {r['load']['seconds']:,} s." if r["load"].get("seconds")
           else "Loaded by an earlier run (reused)."), "",
        f"`open_dossiers_current` ({r['open_dossiers_check']['open_dossiers']:,} open dossiers) is, row for row, "
        f"`dossiers_current`'s dossiers not finished ({r['open_dossiers_check']['dossiers_current_open']:,}): "
        f"**{'yes' if r['open_dossiers_check']['equal'] else 'NO'}**.", "",
        f"## Raw baseline (same run, {r['runs']} runs each after a warm-up)", "",
        "| query | p50 ms | p95 ms | ClickHouse CPU ms |", "|---|---:|---:|---:|",
        *(f"| `{b['sql']}` | {b['p50_ms']} | {b['p95_ms']} | {b['cpu_ms']} |" for b in r["baseline"]), "",
        f"## Every panel and variable query ({len(r['panels'])}: 5 dashboards x All and province 79)", "",
        f"{len({(p['dashboard'], p['what']) for p in r['shared_panels']})} more panels send no query: they show "
        "another panel's result (Grafana's "
        "Dashboard datasource; the wall screen's 18 rate stats share panel 1's query): "
        + "; ".join(_sharing(r["shared_panels"])) + ".", "",
        f"Target p95 ≤ {P95_TARGET_MS:.0f} ms: **{'met' if not over else 'NOT met'}** "
        f"({len(over)} over); the slowest p95 is {worst['p95_ms']} ms ({worst['dashboard']}, {worst['title']}, "
        f"{worst['selection']}), {worst['p95_ms'] / r['baseline'][0]['p95_ms']:.1f}x the raw `count()`.", "",
        "Wall times move with the other sessions' load on this shared machine (see the load average above); the "
        "server's CPU per query does not.", "",
        "| dashboard | query | title | selection | p50 ms | p95 ms | CPU ms | rows |",
        "|---|---|---|---|---:|---:|---:|---:|",
        *(f"| {p['dashboard']} | {p['what']} | {p['title']} | {p['selection']} | {p['p50_ms']} | {p['p95_ms']} | "
          f"{p['cpu_ms']} | {p['rows']} |" for p in r["panels"]), "",
        f"## Wall screens: {w['screens']} provinces x {w['panels_per_screen']} panels ({w['queries_per_screen']} "
        f"queries) every {w['refresh_s']:.0f} s", "",
        f"One screen's refresh, run alone {ALONE_REFRESHES} times: ClickHouse used "
        f"**{w['clickhouse_cpu_seconds_per_refresh']} CPU seconds per refresh** (CPU time: what other sessions "
        f"do to the machine barely moves it), so {w['screens']} screens every {w['refresh_s']:.0f} s need "
        f"**{w['projected_cores']} cores** of ClickHouse.", "",
        "Then all of them for real:",
        f"{w['queries_submitted']:,} queries sent in {w['seconds']} s, {w['queries']:,} answered "
        f"({w['queries_dropped_at_the_end']:,} still queued at the end, dropped) through {w['workers']} "
        f"connections: ClickHouse used **{w['clickhouse_cpu_cores']} cores** on average "
        f"({w['clickhouse_cpu_share_of_machine']:.0%} of the machine; the whole machine was "
        f"{w['machine_busy_share']:.0%} busy, other sessions included). Latency from a refresh's due time to "
        f"each panel's answer: p50 {w['latency_p50_ms']} ms, p95 {w['latency_p95_ms']} ms, max "
        f"{w['latency_max_ms']} ms; {w['refreshes_started_late']} of {w['refreshes']} refreshes started late; "
        f"{w['errors']} errors.", "",
        f"Verdict (criterion: the screens need at most half a core of ClickHouse, {r['cpu_budget_cores']} of the "
        f"machine's {m['nproc']}, and no query fails): "
        f"**{'PASS' if w['projected_cores'] <= r['cpu_budget_cores'] and not w['errors'] else 'FAIL'}**.", "",
        "## What keeping open_dossiers costs the sink", "",
        "After each batch the sink writes the current row of every dossier the batch's transitions touched "
        "(`sinks/open_dossiers.py`); now and then a sweep deletes the finished ones. ClickHouse CPU for batches "
        "of stored transitions:", "",
        "| batch | transitions | dossiers | snapshot CPU ms | snapshot wall ms | sweep after it, CPU ms | wall ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(f"| {u['batch']} | {u['transitions']:,} | {u['dossiers']:,} | {u['snapshot_cpu_ms']} | "
          f"{u['snapshot_wall_ms']} | {u['sweep_cpu_ms']} | {u['sweep_wall_ms']} |" for u in r["open_dossiers_upkeep"]),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="bench_panels")
    parser.add_argument("--dossiers-per-day", type=float, default=820.0)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--reload", action="store_true", help="Drop and load the database again.")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0, help="How long the wall screens run.")
    parser.add_argument("--workers", type=int, default=8, help="Connections the wall screens share.")
    parser.add_argument("--upkeep-runs", type=int, default=5, help="Snapshots timed per batch size.")
    parser.add_argument("--out", type=Path, default=RESULTS / "panels.json")
    args = parser.parse_args(argv)

    admin = Client(**Settings().clickhouse_settings())
    settings = {**Settings().clickhouse_settings(), "database": args.database}
    machine_at_start = machine()
    done = args.database in {r[0] for r in admin.execute("SHOW DATABASES")} and not args.reload \
        and admin.execute(f"SELECT count() FROM {args.database}.kpis")[0][0] > 0
    if done:
        migrate(admin, args.database)  # an earlier run's database gets the tables added since (and their data)
        load_info: dict[str, Any] = {"events": loaded(admin, args.database)["events"],
                                     "dossiers_per_day": args.dossiers_per_day, "seconds": None}
    else:
        admin.execute(f"DROP DATABASE IF EXISTS {args.database}")
        migrate(admin, args.database)
        print(f"loading a year of {', '.join(PROVINCES)} into {args.database}", flush=True)
        load_info = load(settings, args.database, args.dossiers_per_day, args.seed)
    admin.execute(f"OPTIMIZE TABLE {args.database}.kpis FINAL")  # what the table holds once merged
    # open_dossiers as a live sink keeps it: the open dossiers (plus the last minutes' finished ones)
    open_dossiers.Sweeper(args.database, keep_closed=0).finish(admin, timeout=300)
    tables = loaded(admin, args.database)
    exact = open_dossiers_check(admin, args.database)
    client = Client(**settings)
    busiest = client.execute("SELECT dossier_id FROM transitions WHERE province = '79' GROUP BY dossier_id "
                             "ORDER BY count() DESC, dossier_id LIMIT 1")[0][0]
    baseline = [{"sql": sql, **timed(client, sql, args.runs)}
                for sql in ("SELECT count() FROM events", "SELECT count() FROM kpis")]
    panels, shared = [], []
    for q in dashboard_queries(client, busiest):
        if q.shares is not None:
            shared.append({"dashboard": q.dashboard, "what": q.what, "title": q.title, "selection": q.selection,
                           "shares": q.shares})
            continue
        timing = timed(client, q.sql, args.runs)
        rows = len(client.execute(q.sql))
        panels.append({"dashboard": q.dashboard, "what": q.what, "title": q.title, "selection": q.selection,
                       "rows": rows, **timing})
        print(f"  {q.dashboard:17} {q.what:18} {q.selection:3} p95 {panels[-1]['p95_ms']:8.1f} ms  {q.title}",
              flush=True)
    wall = wall_screens(settings, args.seconds, args.workers)
    kept = upkeep(client, args.database, args.upkeep_runs)
    client.disconnect()
    result = {"date": date.today().isoformat(), "machine": machine_at_start, "software": software(),
              "load": load_info, "tables": tables, "open_dossiers_check": exact, "runs": args.runs,
              "baseline": baseline,
              "panels": panels, "shared_panels": shared, "wall_screens": wall, "open_dossiers_upkeep": kept,
              "cpu_budget_cores": 0.5,
              "now": NOW.isoformat(), "load_average_end": [round(x, 2) for x in os.getloadavg()],
              "range_note": "each dashboard's default range, 'now' = 2025-12-31 17:00"}
    admin.disconnect()
    write_result(args.out, result, markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
