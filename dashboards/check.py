"""``motcua dashboards check``: every variable and panel query of the dashboards, expanded as Grafana and the
ClickHouse plugin expand it, run against a ClickHouse; rows and milliseconds per query, any error fails."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from dashboards.macros import ALL, QueryContext, Variable, expand, interval_ms

DEFAULT_MAX_DATA_POINTS = 1000


class Executor(Protocol):
    def execute(self, query: str) -> Any: ...


@dataclass(frozen=True)
class Outcome:
    dashboard: str
    what: str  # "variable <name>" or "panel <id>"
    title: str
    sql: str
    rows: list[tuple[Any, ...]]
    ms: float
    error: str = ""


def _variable_models(board: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(board.get("templating", {}).get("list", []))


def _panels(board: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def _run(executor: Executor, sql: str) -> tuple[list[tuple[Any, ...]], float, str]:
    started = time.perf_counter()
    try:
        rows = [tuple(r) for r in executor.execute(sql)]
    except Exception as error:  # any server error is the check's finding
        return [], (time.perf_counter() - started) * 1000, " ".join(str(error).split())[:400]
    return rows, (time.perf_counter() - started) * 1000, ""


def resolve_variables(executor: Executor, board: Mapping[str, Any], time_from: datetime, time_to: datetime,
                      selections: Mapping[str, list[str]], outcomes: list[Outcome]) -> dict[str, Variable]:
    """Each variable in dashboard order: query variables run (seeing the ones before), custom ones split."""
    variables: dict[str, Variable] = {}
    for model in _variable_models(board):
        name, kind = model["name"], model.get("type")
        chosen = selections.get(name)
        if kind == "query":
            ctx = QueryContext(time_from, time_to, 1000, variables)
            sql = expand(str(model.get("query", "")), ctx)
            rows, ms, error = _run(executor, sql)
            outcomes.append(Outcome(board["uid"], f"variable {name}", model.get("label", name), sql, rows, ms, error))
            options = tuple(str(r[0]) for r in rows)
            variables[name] = Variable(name, options, tuple(chosen or [ALL]), bool(model.get("multi")),
                                       bool(model.get("includeAll")), model.get("allValue"))
        elif kind == "custom":
            options = tuple(v.strip() for v in str(model.get("query", "")).split(",") if v.strip())
            current = model.get("current", {}).get("value")
            default = [current] if isinstance(current, str) else list(current or options[:1])
            variables[name] = Variable(name, options, tuple(chosen or default), bool(model.get("multi")))
        elif kind == "textbox":
            value = (chosen or [str(model.get("query", ""))])[0]
            variables[name] = Variable(name, (value,), (value,))
    return variables


def check_dashboard(executor: Executor, board: Mapping[str, Any], time_from: datetime, time_to: datetime,
                    selections: Mapping[str, list[str]] | None = None) -> list[Outcome]:
    outcomes: list[Outcome] = []
    variables = resolve_variables(executor, board, time_from, time_to, selections or {}, outcomes)
    for panel in _panels(board):
        points = int(panel.get("maxDataPoints") or DEFAULT_MAX_DATA_POINTS)
        ctx = QueryContext(time_from, time_to, interval_ms(time_from, time_to, points), variables)
        for target in panel.get("targets", []):
            sql = expand(str(target.get("rawSql", "")), ctx)
            rows, ms, error = _run(executor, sql)
            outcomes.append(Outcome(board["uid"], f"panel {panel['id']}", panel.get("title", ""), sql, rows, ms, error))
    return outcomes
