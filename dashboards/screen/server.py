"""``motcua screen``: a local viewer of the generated Grafana dashboards, for machines without Grafana.

It serves the provisioning JSON as it is, and runs each panel's SQL the way Grafana would: the browser
sends only the dashboard uid, the panel id, the time range and the variables' selections; the server
resolves the variables (running their queries, dropping selections that are not options, as Grafana
does), expands the SQL with ``dashboards.macros`` and runs it on the configured ClickHouse as a read-only
query (``readonly=2``). The page (``static/``) draws stat, time series, table and bar gauge panels, with
the variables as drop-downs, auto-refresh and the dashboards' links. Nothing can be edited.
"""

from __future__ import annotations

import asyncio
import json
import math
import queue
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from clickhouse_driver import Client

from dashboards.check import Outcome, check_panel, resolve_variables, shared_source
from dashboards.macros import Variable
from dashboards.provisioning import PROVISIONING
from dashboards.screen.timerange import TimeRangeError, time_range
from dashboards.screens import WALL_CLOCK_TAG

STATIC = Path(__file__).parent / "static"
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
READ_ONLY = {"readonly": 2, "max_execution_time": 30}
TEXT_VALUE = re.compile(r"[\w.:/-]{0,120}")  # what a text-box variable (a dossier id) may hold
VARIABLES_TTL = 5.0  # seconds a dashboard's resolved variables are reused (20 panels share one resolution)


def load_dashboards(root: Path = PROVISIONING) -> dict[str, dict[str, Any]]:
    """uid -> dashboard JSON, as provisioned."""
    boards = (json.loads(p.read_text(encoding="utf-8")) for p in sorted((root / "dashboards").glob("**/*.json")))
    return {b["uid"]: b for b in boards}


class Pool:
    """A few ClickHouse connections, each used by one thread at a time (clickhouse-driver's rule)."""

    def __init__(self, settings: dict[str, Any], size: int) -> None:
        self._idle: queue.Queue[Client] = queue.Queue()
        for _ in range(size):
            self._idle.put(Client(**settings, connect_timeout=3, send_receive_timeout=60, settings=READ_ONLY))

    @contextmanager
    def client(self) -> Iterator[Client]:
        client = self._idle.get()
        try:
            yield client
        except Exception:
            client.disconnect()  # a broken connection reconnects on its next use
            raise
        finally:
            self._idle.put(client)

    def close(self) -> None:
        while not self._idle.empty():
            self._idle.get().disconnect()


def json_value(value: Any) -> Any:
    """A cell as JSON: instants as epoch seconds (the page prints them in Asia/Ho_Chi_Minh), dates as text."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value


def column_kind(values: list[Any]) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, datetime) for v in present):
        return "time"
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return "number"
    return "string"


@dataclass
class Request:
    uid: str
    start: datetime
    end: datetime
    selections: dict[str, list[str]]


class Screen:
    """The dashboards, the ClickHouse pool and what ``now`` means."""

    def __init__(self, boards: dict[str, dict[str, Any]], pool: Pool, now: Callable[[Client], datetime]) -> None:
        self.boards, self.pool, self.now = boards, pool, now
        self.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="screen-query")
        self._variables: dict[str, tuple[float, dict[str, Variable], list[Outcome]]] = {}

    def parse(self, body: dict[str, Any]) -> Request:
        uid = str(body.get("uid", ""))
        if uid not in self.boards:
            raise web.HTTPNotFound(text=f"no dashboard {uid!r}")
        selections = {str(k): [str(v) for v in (vs if isinstance(vs, list) else [vs])]
                      for k, vs in (body.get("vars") or {}).items()}
        for name, values in selections.items():
            if not all(TEXT_VALUE.fullmatch(v) or v == "$__all" for v in values):
                raise web.HTTPBadRequest(text=f"variable {name}: a value may hold letters, digits and . : / - _")
        board = self.boards[uid]
        if WALL_CLOCK_TAG in board.get("tags", []):
            now = datetime.now(ZONE)
        else:
            with self.pool.client() as client:
                now = self.now(client)
        try:
            start, end = time_range(str(body.get("from") or board["time"]["from"]),
                                    str(body.get("to") or board["time"]["to"]), now, ZONE)
        except TimeRangeError as error:
            raise web.HTTPBadRequest(text=str(error)) from None
        return Request(uid, start, end, selections)

    def variables(self, request: Request) -> tuple[dict[str, Variable], list[Outcome]]:
        key = json.dumps([request.uid, request.start.isoformat(), request.end.isoformat(), request.selections],
                         sort_keys=True)
        cached = self._variables.get(key)
        if cached and time.monotonic() - cached[0] < VARIABLES_TTL:
            return cached[1], cached[2]
        outcomes: list[Outcome] = []
        with self.pool.client() as client:
            resolved = resolve_variables(client, self.boards[request.uid], request.start, request.end,
                                         request.selections, outcomes)
        if len(self._variables) > 1000:
            self._variables.clear()
        self._variables[key] = (time.monotonic(), resolved, outcomes)
        return resolved, outcomes

    def panel(self, request: Request, panel_id: int) -> dict[str, Any]:
        """A panel's result; a panel sharing another's result (the page asks the source itself) gets the
        source's."""
        panels = {p["id"]: p for p in self.boards[request.uid]["panels"]}
        panel = panels.get(panel_id)
        if panel is None:
            raise web.HTTPNotFound(text=f"no panel {panel_id} in {request.uid}")
        panel = panels.get(shared_source(panel) or panel_id, panel)
        variables, _ = self.variables(request)
        with self.pool.client() as client:
            outcomes = check_panel(client, request.uid, panel, request.start, request.end, variables,
                                   with_column_types=True)
        results = []
        for o in outcomes:
            names = [name for name, _ in o.columns]
            columns = list(zip(*o.rows, strict=True)) if o.rows else [[] for _ in names]
            results.append({"columns": [{"name": n, "kind": column_kind(list(c))} for n, c in zip(names, columns,
                                                                                                   strict=True)],
                            "rows": [[json_value(v) for v in row] for row in o.rows], "ms": round(o.ms, 1),
                            "error": o.error})
        return {"panel": panel_id, "results": results, "from": request.start.timestamp(),
                "to": request.end.timestamp()}

    def variable_options(self, request: Request) -> dict[str, Any]:
        variables, outcomes = self.variables(request)
        errors = [o.error for o in outcomes if o.error]
        return {"variables": [{"name": v.name, "options": list(v.options), "selected": list(v.selected)}
                              for v in variables.values()],
                "errors": errors, "from": request.start.timestamp(), "to": request.end.timestamp()}


def app(screen: Screen) -> web.Application:
    async def dashboards(_request: web.Request) -> web.Response:
        return web.json_response([{"uid": uid, "title": b["title"]} for uid, b in screen.boards.items()])

    async def dashboard(request: web.Request) -> web.Response:
        board = screen.boards.get(request.match_info["uid"])
        if board is None:
            raise web.HTTPNotFound(text="no such dashboard")
        return web.json_response({"dashboard": board, "meta": {"canEdit": False, "canSave": False}})

    async def run(request: web.Request, work: Callable[[Request], dict[str, Any]]) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="the body must be JSON") from None
        parsed = await asyncio.get_running_loop().run_in_executor(screen.executor, screen.parse, body)
        answer = await asyncio.get_running_loop().run_in_executor(screen.executor, work, parsed)
        return web.json_response(answer)

    async def query(request: web.Request) -> web.Response:
        body = await request.json()
        panel_id = body.get("panel")
        if not isinstance(panel_id, int):
            raise web.HTTPBadRequest(text="panel: an integer panel id")
        return await run(request, lambda parsed: screen.panel(parsed, panel_id))

    async def variables(request: web.Request) -> web.Response:
        return await run(request, screen.variable_options)

    async def page(_request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "viewer.html")

    application = web.Application()
    application.router.add_get("/", page)
    application.router.add_get("/d/{uid}", page)
    application.router.add_get("/api/search", dashboards)
    application.router.add_get("/api/dashboards/uid/{uid}", dashboard)
    application.router.add_post("/api/query", query)
    application.router.add_post("/api/variables", variables)
    application.router.add_static("/static/", STATIC)
    return application


def latest_event_time(client: Client) -> datetime:
    """The pipeline's event time: the newest KPI row's watermark (the clock when there is none yet)."""
    rows = client.execute("SELECT max(watermark) FROM kpis")
    latest = rows[0][0] if rows else None
    if not isinstance(latest, datetime) or latest.timestamp() <= 0:
        return datetime.now(ZONE)
    return latest.astimezone(ZONE) if latest.tzinfo else latest.replace(tzinfo=ZONE)


def now_function(spec: str) -> Callable[[Client], datetime]:
    """``wall`` (the clock), ``pipeline`` (the newest event time in ClickHouse) or a fixed ISO instant."""
    if spec == "wall":
        return lambda _client: datetime.now(ZONE)
    if spec == "pipeline":
        seen: list[tuple[float, datetime]] = []

        def pipeline(client: Client) -> datetime:  # read at most every 2 s: 20 panels ask at once
            if not seen or time.monotonic() - seen[-1][0] > 2.0:
                seen[:] = [(time.monotonic(), latest_event_time(client))]
            return seen[-1][1]
        return pipeline
    fixed = datetime.fromisoformat(spec)
    fixed = fixed if fixed.tzinfo else fixed.replace(tzinfo=ZONE)
    return lambda _client: fixed
