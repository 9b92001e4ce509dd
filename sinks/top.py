"""`motcua top`: a live terminal view of the stored KPIs, read from ClickHouse and refreshed every second.

It shows the current day's row of every province (the latest day the KPI rows reach, since event time is
what counts: a replay or the demo's simulated day), the units with the worst overdue rate, the open
overdue and due-soon dossiers, and, when the sink's /health answers, its rate and lag. In the ``2025``
hierarchy the provinces are the 34 of 2025 (a row the sum of its former provinces', rates recomputed) and a
unit's province is the one it became part of; ``legacy`` shows the codes as sent (DOMAIN.md section 5).
"""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from clickhouse_driver import Client
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from dashboards import queries
from dossier import catalog
from dossier.merger import Hierarchy
from wire.runtime import clickhouse_client

KPI_COLUMNS = ("scope_id", "province", "to_process", "received", "finished", "open_overdue", "open_due_soon",
               "on_time_rate", "overdue_rate", "online_rate", "e_result_rate", "provisional", "watermark")


@dataclass
class TopView:
    day: date | None = None
    provinces: list[dict[str, Any]] = field(default_factory=list)
    worst_units: list[dict[str, Any]] = field(default_factory=list)
    events: int = 0
    overdue: int = 0
    due_soon: int = 0
    refused: int = 0
    sink: dict[str, Any] = field(default_factory=dict)
    error: str = ""


def _kpis(client: Client, scope: str, day: date, hierarchy: Hierarchy) -> list[dict[str, Any]]:
    rows, columns = client.execute(queries.query("kpis_current"), {"hierarchy": hierarchy, "scope": scope,
                                                                   "period": "day", "period_start": day},
                                   with_column_types=True)
    names = [name for name, _type in columns]
    return [dict(zip(names, row, strict=True)) for row in rows]


def snapshot(client: Client, units: int = 10, health_url: str | None = None,
             hierarchy: Hierarchy = "legacy") -> TopView:
    """What the view shows, read now (the database is the client's), provinces in ``hierarchy``."""
    view = TopView()
    view.day = client.execute("SELECT max(period_start) FROM kpis WHERE scope = 'province' AND period = 'day'")[0][0]
    if view.day is not None and view.day.year < 2000:  # max() of no rows: the Date type's zero
        view.day = None
    if view.day is not None:
        view.provinces = sorted(_kpis(client, "province", view.day, hierarchy), key=lambda r: r["scope_id"])
        view.worst_units = _kpis(client, "unit", view.day, hierarchy)[:units]
    view.events, view.refused = client.execute(
        "SELECT (SELECT uniqExact(dossier_id, event_id) FROM events), (SELECT count() FROM dlq_unique)"
    )[0]
    view.overdue, view.due_soon = client.execute(
        "SELECT countIf(standing = 'overdue'), countIf(standing = 'due_soon') FROM open_dossiers_current"
    )[0]
    if health_url:
        try:
            with urllib.request.urlopen(health_url, timeout=0.5) as response:
                view.sink = dict(json.load(response))
        except (OSError, ValueError):
            view.sink = {}
    return view


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.1%}"


def _province_name(code: str, names: dict[str, str]) -> str:
    return f"{code} {names.get(code, '')}".strip()


def render(view: TopView) -> RenderableType:
    names = {p.code: p.name for p in catalog.provinces()}
    sink = view.sink
    header = [f"events [bold]{view.events:,}[/]", f"open overdue [bold red]{view.overdue:,}[/]",
              f"due soon [bold yellow]{view.due_soon:,}[/]", f"DLQ {view.refused:,}"]
    if sink:
        header.append(f"sink {sink.get('rows_per_second', 0):,.0f} rows/s, lag {sink.get('lag_total', 0):,}, "
                      f"{sink.get('status', '?')}")
    if view.error:
        header.append(f"[red]{view.error}[/]")
    if view.day is None:
        title = "motcua top: no KPI rows yet (are the streams running? `motcua streams worker`)"
        return Panel("  ·  ".join(header), title=title)
    watermark = max((r["watermark"] for r in view.provinces), default=None)
    shown_at = watermark.strftime("%H:%M:%S") if isinstance(watermark, datetime) else "?"
    title = f"motcua top: day {view.day} (event time {shown_at}, Asia/Ho_Chi_Minh)"

    provinces = Table(title="Provinces, today", expand=True)
    for name in ("province", "to process", "received", "finished", "on time", "overdue", "online", "e-result",
                 "open overdue", "due soon"):
        provinces.add_column(name, justify="left" if name == "province" else "right")
    for r in view.provinces:
        provinces.add_row(_province_name(r["scope_id"], names), f"{r['to_process']:,}", f"{r['received']:,}",
                          f"{r['finished']:,}", _percent(r["on_time_rate"]), _percent(r["overdue_rate"]),
                          _percent(r["online_rate"]), _percent(r["e_result_rate"]), f"{r['open_overdue']:,}",
                          f"{r['open_due_soon']:,}")
    units = Table(title="Worst units by overdue rate, today", expand=True)
    for name in ("unit", "province", "to process", "overdue", "on time", "open overdue", "due soon"):
        units.add_column(name, justify="left" if name in ("unit", "province") else "right")
    for r in view.worst_units:
        units.add_row(r["scope_id"], _province_name(r["province"], names), f"{r['to_process']:,}",
                      _percent(r["overdue_rate"]), _percent(r["on_time_rate"]), f"{r['open_overdue']:,}",
                      f"{r['open_due_soon']:,}")
    return Panel(Group("  ·  ".join(header), provinces, units), title=title)


def run_top(settings: dict[str, Any], interval: float = 1.0, units: int = 10, once: bool = False,
            health_url: str | None = None, above: RenderableType | None = None,
            hierarchy: Hierarchy = "legacy") -> None:
    """Refresh the view every ``interval`` seconds until interrupted (``once``: print one frame); ``above`` is
    drawn over it (the demo's replay progress)."""
    client = clickhouse_client(settings, connect_timeout=2, send_receive_timeout=10)
    try:
        if once:
            Console().print(render(snapshot(client, units, health_url, hierarchy)))
            return
        view = TopView()
        def frame(view: TopView) -> RenderableType:
            return render(view) if above is None else Group(above, render(view))

        with Live(frame(view), refresh_per_second=4, screen=False) as live:
            while True:
                try:
                    view = snapshot(client, units, health_url, hierarchy)
                except Exception as error:  # ClickHouse restarting, a table not yet there: say so, retry
                    view.error = f"ClickHouse: {str(error).splitlines()[0][:120]}"
                    client.disconnect()
                live.update(frame(view))
                time.sleep(interval)
    except KeyboardInterrupt:
        pass
    finally:
        client.disconnect()
