"""``motcua dashboards check``: every variable and panel query of the dashboards, expanded as Grafana and the
ClickHouse plugin expand it, run against a ClickHouse; rows and milliseconds per query, any error fails."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from dashboards.clickhouse import SHARED
from dashboards.macros import ALL, QueryContext, Variable, expand, interval_ms

DEFAULT_MAX_DATA_POINTS = 1000


class Executor(Protocol):
    def execute(self, query: str, *args: Any, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class Outcome:
    dashboard: str
    what: str  # "variable <name>" or "panel <id>"
    title: str
    sql: str
    rows: list[tuple[Any, ...]]
    ms: float
    error: str = ""
    columns: tuple[tuple[str, str], ...] = ()  # (name, ClickHouse type), when asked for
    shares: int | None = None  # the panel shows this panel's result (Grafana's Dashboard datasource): no query


def _variable_models(board: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(board.get("templating", {}).get("list", []))


def _panels(board: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def _run(executor: Executor, sql: str, with_column_types: bool = False
         ) -> tuple[list[tuple[Any, ...]], float, str, tuple[tuple[str, str], ...]]:
    started = time.perf_counter()
    columns: tuple[tuple[str, str], ...] = ()
    try:
        if with_column_types:
            answer, types = executor.execute(sql, with_column_types=True)
            columns = tuple((str(n), str(t)) for n, t in types)
        else:
            answer = executor.execute(sql)
        rows = [tuple(r) for r in answer]
    except Exception as error:  # any server error is the check's finding
        return [], (time.perf_counter() - started) * 1000, " ".join(str(error).split())[:400], ()
    return rows, (time.perf_counter() - started) * 1000, "", columns


def _selected(chosen: list[str] | None, options: tuple[str, ...], include_all: bool) -> list[str]:
    """What Grafana keeps of a selection: the values that are options (All where allowed)."""
    return [v for v in chosen or [] if v in options or (include_all and v == ALL)]


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
            rows, ms, error, _ = _run(executor, sql)
            outcomes.append(Outcome(board["uid"], f"variable {name}", model.get("label", name), sql, rows, ms, error))
            options = tuple(str(r[0]) for r in rows)
            include_all = bool(model.get("includeAll"))
            picked = _selected(chosen, options, include_all) or ([ALL] if include_all else list(options[:1]))
            variables[name] = Variable(name, options, tuple(picked), bool(model.get("multi")), include_all,
                                       model.get("allValue"))
        elif kind == "custom":
            options = tuple(v.strip() for v in str(model.get("query", "")).split(",") if v.strip())
            current = model.get("current", {}).get("value")
            default = [current] if isinstance(current, str) else list(current or options[:1])
            variables[name] = Variable(name, options, tuple(_selected(chosen, options, False) or default),
                                       bool(model.get("multi")))
        elif kind == "textbox":
            value = (chosen or [str(model.get("query", ""))])[0]
            variables[name] = Variable(name, (value,), (value,))
    return variables


def shared_source(panel: Mapping[str, Any]) -> int | None:
    """The id of the panel whose result this one shows (Grafana's Dashboard datasource), else None."""
    if panel.get("datasource", {}).get("uid") != SHARED.uid:
        return None
    return int(panel["targets"][0]["panelId"])


def _field_pattern(spec: str) -> re.Pattern[str]:
    """Grafana's ``reduceOptions.fields``: ``/regex/flags`` or a plain name (matched whole)."""
    if len(spec) > 1 and spec.startswith("/") and spec.rindex("/") > 0:
        end = spec.rindex("/")
        return re.compile(spec[1:end], re.IGNORECASE if "i" in spec[end + 1:] else 0)
    return re.compile(f"^{re.escape(spec)}$")


def shown(panel: Mapping[str, Any], outcome: Outcome) -> Outcome:
    """What a stat panel shows of a result: the columns its ``reduceOptions.fields`` picks (all otherwise)."""
    spec = panel.get("options", {}).get("reduceOptions", {}).get("fields")
    if not spec or not outcome.columns:
        return outcome
    pattern = _field_pattern(spec)
    keep = [i for i, (name, _) in enumerate(outcome.columns) if pattern.search(name)]
    return replace(outcome, rows=[tuple(row[i] for i in keep) for row in outcome.rows],
                   columns=tuple(outcome.columns[i] for i in keep))


def check_dashboard(executor: Executor, board: Mapping[str, Any], time_from: datetime, time_to: datetime,
                    selections: Mapping[str, list[str]] | None = None) -> list[Outcome]:
    """Every variable and panel query; a panel sharing another's result gets that result, without a query
    (as Grafana runs it: once). A stat's rows are the columns it shows."""
    outcomes: list[Outcome] = []
    variables = resolve_variables(executor, board, time_from, time_to, selections or {}, outcomes)
    results: dict[int, Outcome] = {}
    for panel in _panels(board):
        source = shared_source(panel)
        if source is None:
            found = check_panel(executor, board["uid"], panel, time_from, time_to, variables, with_column_types=True)
            if found:
                results[panel["id"]] = found[0]
        else:
            first = results[source]
            found = [replace(first, what=f"panel {panel['id']}", title=panel.get("title", ""), sql="", ms=0.0,
                             shares=source)]
        outcomes += [shown(panel, o) for o in found]
    return outcomes


def check_panel(executor: Executor, uid: str, panel: Mapping[str, Any], time_from: datetime, time_to: datetime,
                variables: Mapping[str, Variable], with_column_types: bool = False) -> list[Outcome]:
    """Every target of one panel, expanded with its own interval (the panel's max data points)."""
    points = int(panel.get("maxDataPoints") or DEFAULT_MAX_DATA_POINTS)
    ctx = QueryContext(time_from, time_to, interval_ms(time_from, time_to, points), variables)
    outcomes = []
    for target in panel.get("targets", []):
        sql = expand(str(target.get("rawSql", "")), ctx)
        rows, ms, error, columns = _run(executor, sql, with_column_types)
        outcomes.append(Outcome(uid, f"panel {panel['id']}", panel.get("title", ""), sql, rows, ms, error, columns))
    return outcomes
