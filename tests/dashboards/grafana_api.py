"""A real HTTP server on loopback that answers like Grafana's HTTP API for the endpoints
``motcua dashboards push`` uses, keeps what it was sent, and records every request.

No Grafana server can be installed on these machines. The answers follow Grafana's API documentation
(folders, data sources, dashboards, alerting provisioning): 401 without the right credential, 404 for an
unknown uid, 409/412-free overwrites, ``id``/``version`` added to stored objects, a datasource's secure
fields shown only as ``secureJsonFields``, contact point secrets as ``[REDACTED]``.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "glsa_test_token"
BASIC = ("admin", "secret")


@dataclass
class State:
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    rule_groups: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    contact_points: dict[str, dict[str, Any]] = field(default_factory=dict)
    policies: dict[str, Any] | None = None
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    mute_timings: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    next_id: int = 1

    def writes(self) -> list[tuple[str, str, Any]]:
        return [r for r in self.requests if r[0] != "GET"]

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id


def _authorised(header: str | None) -> bool:
    if header == f"Bearer {TOKEN}":
        return True
    return header == "Basic " + base64.b64encode(":".join(BASIC).encode()).decode()


class _Handler(BaseHTTPRequestHandler):
    state: State
    lock: threading.Lock

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        with self.lock:
            self.state.requests.append((self.command, self.path, body))
            if not _authorised(self.headers.get("Authorization")):
                return self._answer(401, {"message": "Unauthorized"})
            status, answer = route(self.state, self.command, self.path.split("?")[0], body)
        self._answer(status, answer)

    do_GET = do_POST = do_PUT = do_DELETE = _handle


def _stored(obj: dict[str, Any], state: State, previous: dict[str, Any] | None) -> dict[str, Any]:
    version = (previous or {}).get("version", 0) + 1
    return {**obj, "id": (previous or {}).get("id") or state.new_id(), "version": version}


def route(state: State, method: str, path: str, body: Any) -> tuple[int, Any]:
    not_found = (404, {"message": "Not found"})
    if m := re.fullmatch(r"/api/folders/([\w-]+)", path):
        uid = m.group(1)
        if method == "GET":
            return (200, state.folders[uid]) if uid in state.folders else not_found
        if method == "PUT" and uid in state.folders:
            state.folders[uid] = _stored({**state.folders[uid], "title": body["title"]}, state, state.folders[uid])
            return 200, state.folders[uid]
    if path == "/api/folders" and method == "POST":
        if body["uid"] in state.folders:
            return 409, {"message": "a folder with the same uid already exists"}
        state.folders[body["uid"]] = _stored({"uid": body["uid"], "title": body["title"]}, state, None)
        return 200, state.folders[body["uid"]]
    if m := re.fullmatch(r"/api/datasources/uid/([\w-]+)", path):
        uid = m.group(1)
        if method == "GET":
            if uid not in state.datasources:
                return not_found
            shown = {**state.datasources[uid], "secureJsonFields": {k: True for k in state.secrets.get(uid, {})}}
            return 200, shown
        if method == "PUT" and uid in state.datasources:
            return _save_datasource(state, body, state.datasources[uid])
    if path == "/api/datasources" and method == "POST":
        if body["uid"] in state.datasources:
            return 409, {"message": "data source with the same uid already exists"}
        return _save_datasource(state, body, None)
    if m := re.fullmatch(r"/api/dashboards/uid/([\w-]+)", path):
        stored = state.dashboards.get(m.group(1))
        return (200, stored) if stored else not_found
    if path == "/api/dashboards/db" and method == "POST":
        board, folder = body["dashboard"], body.get("folderUid", "")
        if folder and folder not in state.folders:
            return 400, {"message": "folder not found"}
        previous = state.dashboards.get(board["uid"], {}).get("dashboard")
        if previous and not body.get("overwrite"):
            return 412, {"status": "version-mismatch"}
        saved = _stored({**board, "id": None}, state, previous)
        state.dashboards[board["uid"]] = {"dashboard": saved, "meta": {"folderUid": folder, "slug": board["uid"]}}
        return 200, {"id": saved["id"], "uid": saved["uid"], "version": saved["version"], "status": "success"}
    if m := re.fullmatch(r"/api/v1/provisioning/folder/([\w-]+)/rule-groups/(.+)", path):
        key = (m.group(1), m.group(2))
        if method == "GET":
            return (200, state.rule_groups[key]) if key in state.rule_groups else not_found
        if method == "PUT":
            if key[0] not in state.folders:
                return 400, {"message": "folder does not exist"}
            rules = [{**r, "id": state.new_id(), "orgID": 1, "provenance": "api"} for r in body["rules"]]
            state.rule_groups[key] = {**body, "rules": rules}
            return 200, state.rule_groups[key]
    if path == "/api/v1/provisioning/contact-points":
        if method == "GET":
            return 200, [_redact(p) for p in state.contact_points.values()]
        if method == "POST":
            uid = body.get("uid") or f"cp{state.new_id()}"
            state.contact_points[uid] = {**body, "uid": uid}
            return 202, state.contact_points[uid]
    if (m := re.fullmatch(r"/api/v1/provisioning/contact-points/([\w-]+)", path)) and method == "PUT":
        if m.group(1) not in state.contact_points:
            return not_found
        state.contact_points[m.group(1)] = body
        return 202, {"message": "contactpoint updated"}
    if path == "/api/v1/provisioning/policies":
        if method == "GET":
            return 200, state.policies or {"receiver": "grafana-default-email", "group_by": ["grafana_folder"]}
        if method == "PUT":
            state.policies = body
            return 202, {"message": "policies updated"}
    if m := re.fullmatch(r"/api/v1/provisioning/templates/(.+)", path):
        if method == "GET":
            return (200, state.templates[m.group(1)]) if m.group(1) in state.templates else not_found
        if method == "PUT":
            state.templates[m.group(1)] = body
            return 202, body
    return 404, {"message": f"not an endpoint of this double: {method} {path}"}


def _save_datasource(state: State, body: dict[str, Any], previous: dict[str, Any] | None) -> tuple[int, Any]:
    plain = {k: v for k, v in body.items() if k != "secureJsonData"}
    if "secureJsonData" in body:
        state.secrets[body["uid"]] = body["secureJsonData"]
    state.datasources[body["uid"]] = _stored({**plain, "orgId": 1, "readOnly": False}, state, previous)
    return 200, {"datasource": state.datasources[body["uid"]], "message": "Datasource saved"}


def _redact(point: dict[str, Any]) -> dict[str, Any]:
    settings = {k: ("[REDACTED]" if k in ("password", "token", "url") and point.get("type") != "email" else v)
                for k, v in point.get("settings", {}).items()}
    return {**point, "settings": settings}


@contextmanager
def grafana_api() -> Iterator[tuple[str, State]]:
    """The server on an ephemeral loopback port: its base URL and its state."""
    state = State()
    handler = type("Handler", (_Handler,), {"state": state, "lock": threading.Lock()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
