"""``motcua dashboards push``: the committed provisioning tree put into a running Grafana over its HTTP API.

What is pushed is what ``dashboards/provisioning/`` holds, read the way Grafana's file provisioning reads
it: folders (the dashboard provider's, and every alert group's), the datasources (``$VAR`` and
``${VAR:-default}`` expanded from the environment, as Grafana does), the dashboards, and whatever the
alerting files hold (rule groups, contact points, the notification policy tree, templates, mute timings).

Idempotent by uid: each object is read first and written only when it differs from the file, so a second
push sends no write at all. The planning is pure (``plan_*`` take what Grafana answered and return the
writes); ``push`` runs it through grafana-client, or only prints the writes (``dry_run``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from dashboards.provisioning import FOLDER, PROVISIONING

REDACTED = "[REDACTED]"  # how Grafana shows a secure setting it keeps
SECRET_KEYS = ("secureJsonData",)
FILE_ONLY = ("orgId", "editable")  # datasource keys of the file format that the API has no field for
ALERTING_KEYS = frozenset({"apiVersion", "groups", "contactPoints", "policies", "templates", "muteTimes"})


class PushError(RuntimeError):
    """The provisioning files hold something this command cannot put through the API."""


@dataclass(frozen=True)
class Request:
    """One write to Grafana's HTTP API (paths under ``/api``)."""

    method: str
    path: str
    body: Any

    def describe(self, limit: int | None = 200) -> str:
        body = json.dumps(_redacted(self.body), ensure_ascii=False, sort_keys=True)
        if limit is not None and len(body) > limit:
            body = body[:limit] + f"... ({len(body):,} characters)"
        return f"{self.method} /api{self.path} {body}"


class Grafana(Protocol):
    def get(self, path: str) -> Any:
        """The JSON at ``/api<path>``, or None when Grafana answers 404."""


@dataclass
class Wanted:
    """What the provisioning files ask for, in the API's shapes."""

    folders: dict[str, str] = field(default_factory=dict)  # uid -> title
    datasources: list[dict[str, Any]] = field(default_factory=list)
    dashboards: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (folder uid, dashboard)
    rule_groups: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (folder uid, group)
    contact_points: list[dict[str, Any]] = field(default_factory=list)
    policies: dict[str, Any] | None = None
    templates: list[dict[str, Any]] = field(default_factory=list)
    mute_timings: list[dict[str, Any]] = field(default_factory=list)


# reading the files -------------------------------------------------------------------------------------------

_ENV = re.compile(r"\$(?:\{(\w+)(?::-([^}]*))?\}|(\w+))")


def expand_env(value: Any, env: Mapping[str, str]) -> Any:
    """Grafana's provisioning interpolation: ``$VAR``, ``${VAR}`` and ``${VAR:-default}`` in every string."""
    if isinstance(value, str):
        return _ENV.sub(lambda m: env.get(m.group(1) or m.group(3), "") or (m.group(2) or ""), value)
    if isinstance(value, list):
        return [expand_env(v, env) for v in value]
    if isinstance(value, dict):
        return {k: expand_env(v, env) for k, v in value.items()}
    return value


def folder_uid(title: str) -> str:
    """The uid a folder known only by its title (an alert group's ``folder``) gets: its slug."""
    return re.sub(r"[^a-z0-9-]+", "-", title.lower()).strip("-") or "general"


def _yaml_files(directory: Path) -> Iterator[dict[str, Any]]:
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        yield yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _seconds(duration: str | int) -> int:
    if isinstance(duration, int):
        return duration
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    parts = re.findall(r"(\d+)([smhd])", duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise PushError(f"cannot read the interval {duration!r}")
    return sum(int(n) * units[u] for n, u in parts)


def _read_alerting(wanted: Wanted, document: dict[str, Any]) -> None:
    unknown = set(document) - ALERTING_KEYS
    if unknown:
        raise PushError(f"alerting provisioning keys this push does not handle: {', '.join(sorted(unknown))}")
    for group in document.get("groups") or []:
        uid = group.get("folderUid") or folder_uid(group["folder"])
        wanted.folders.setdefault(uid, group.get("folder", uid))
        rules = [{k: v for k, v in rule.items() if k != "orgId"} | {"folderUID": uid, "ruleGroup": group["name"]}
                 for rule in group.get("rules") or []]
        wanted.rule_groups.append((uid, {"title": group["name"], "folderUid": uid,
                                         "interval": _seconds(group.get("interval", "1m")), "rules": rules}))
    for point in document.get("contactPoints") or []:
        for receiver in point.get("receivers") or []:
            wanted.contact_points.append({"name": point["name"], **receiver})
    for tree in document.get("policies") or []:
        wanted.policies = {k: v for k, v in tree.items() if k != "orgId"}
    for template in document.get("templates") or []:
        wanted.templates.append({"name": template["name"], "template": template["template"]})
    for timing in document.get("muteTimes") or []:
        wanted.mute_timings.append({k: v for k, v in timing.items() if k != "orgId"})


def wanted_from(root: Path = PROVISIONING, env: Mapping[str, str] | None = None) -> Wanted:
    """Everything the provisioning tree under ``root`` holds, ready for the API."""
    env = os.environ if env is None else env
    wanted = Wanted()
    for document in _yaml_files(root / "datasources"):
        for source in document.get("datasources") or []:
            source = expand_env(source, env)
            if not (source.get("secureJsonData") or {}).get("password"):
                source.pop("secureJsonData", None)  # no password in the environment: keep Grafana's
            wanted.datasources.append({k: v for k, v in source.items() if k not in FILE_ONLY})
    providers = [p for d in _yaml_files(root / "dashboards") for p in d.get("providers") or []]
    title = providers[0].get("folder", FOLDER) if providers else FOLDER
    wanted.folders[folder_uid(title)] = title
    for path in sorted((root / "dashboards").glob("**/*.json")):
        wanted.dashboards.append((folder_uid(title), json.loads(path.read_text(encoding="utf-8"))))
    for document in _yaml_files(root / "alerting"):
        _read_alerting(wanted, document)
    return wanted


# planning: what Grafana has -> the writes that make it what the files say ------------------------------------

def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ({n: REDACTED for n in v} if k in SECRET_KEYS and isinstance(v, dict) else _redacted(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return value


def differs(wanted: Any, current: Any) -> bool:
    """Whether ``current`` lacks or contradicts anything ``wanted`` says (fields Grafana adds are ignored,
    secure values it shows as redacted count as equal)."""
    if isinstance(wanted, dict):
        if not isinstance(current, dict):
            return True
        return any(k not in SECRET_KEYS and differs(v, current.get(k)) for k, v in wanted.items())
    if isinstance(wanted, list):
        return not isinstance(current, list) or len(wanted) != len(current) or any(
            differs(w, c) for w, c in zip(wanted, current, strict=True))
    return current != wanted and current != REDACTED


def plan_folder(uid: str, title: str, current: dict[str, Any] | None) -> list[Request]:
    if current is None:
        return [Request("POST", "/folders", {"uid": uid, "title": title})]
    if current.get("title") != title:
        return [Request("PUT", f"/folders/{uid}", {"title": title, "overwrite": True})]
    return []


def plan_datasource(source: dict[str, Any], current: dict[str, Any] | None) -> list[Request]:
    if current is None:
        return [Request("POST", "/datasources", source)]
    if differs(source, current):
        return [Request("PUT", f"/datasources/uid/{source['uid']}", source)]
    return []


_GRAFANA_OWNED = ("id", "version")


def plan_dashboard(folder: str, board: dict[str, Any], current: dict[str, Any] | None) -> list[Request]:
    """Overwrite by uid when the stored dashboard (less its id and version) or its folder differs."""
    mine = {k: v for k, v in board.items() if k not in _GRAFANA_OWNED}
    if current is not None and current.get("meta", {}).get("folderUid") == folder \
            and not differs(mine, current.get("dashboard")):
        return []
    body = {"dashboard": mine | {"id": None}, "folderUid": folder, "overwrite": True,
            "message": "motcua dashboards push"}
    return [Request("POST", "/dashboards/db", body)]


def plan_rule_group(folder: str, group: dict[str, Any], current: dict[str, Any] | None) -> list[Request]:
    if current is not None and not differs(group, current):
        return []
    return [Request("PUT", f"/v1/provisioning/folder/{folder}/rule-groups/{group['title']}", group)]


def plan_contact_point(point: dict[str, Any], current: list[dict[str, Any]]) -> list[Request]:
    existing = next((c for c in current if c.get("uid") == point.get("uid")), None) if point.get("uid") else None
    if existing is None:
        return [Request("POST", "/v1/provisioning/contact-points", point)]
    if differs(point, existing):
        return [Request("PUT", f"/v1/provisioning/contact-points/{point['uid']}", point)]
    return []


def plan_replace(path: str, wanted: dict[str, Any], current: dict[str, Any] | None, create: str = "PUT",
                 create_path: str | None = None) -> list[Request]:
    """An object known by name or alone (policy tree, template, mute timing): written when it differs."""
    if current is None:
        return [Request(create, create_path or path, wanted)]
    return [Request("PUT", path, wanted)] if differs(wanted, current) else []


def plan(wanted: Wanted, grafana: Grafana) -> Iterator[Request]:
    """The writes, in dependency order (folders before what goes into them); reads Grafana as it goes."""
    for uid, title in wanted.folders.items():
        yield from plan_folder(uid, title, grafana.get(f"/folders/{uid}"))
    for source in wanted.datasources:
        yield from plan_datasource(source, grafana.get(f"/datasources/uid/{source['uid']}"))
    for folder, board in wanted.dashboards:
        yield from plan_dashboard(folder, board, grafana.get(f"/dashboards/uid/{board['uid']}"))
    for template in wanted.templates:
        path = f"/v1/provisioning/templates/{template['name']}"
        yield from plan_replace(path, template, grafana.get(path))
    for timing in wanted.mute_timings:
        path = f"/v1/provisioning/mute-timings/{timing['name']}"
        yield from plan_replace(path, timing, grafana.get(path), "POST", "/v1/provisioning/mute-timings")
    if wanted.contact_points:
        current = grafana.get("/v1/provisioning/contact-points") or []
        for point in wanted.contact_points:
            yield from plan_contact_point(point, current)
    for folder, group in wanted.rule_groups:
        yield from plan_rule_group(folder, group, grafana.get(
            f"/v1/provisioning/folder/{folder}/rule-groups/{group['title']}"))
    if wanted.policies is not None:
        yield from plan_replace("/v1/provisioning/policies", wanted.policies,
                                grafana.get("/v1/provisioning/policies"))


# running it --------------------------------------------------------------------------------------------------

class GrafanaApi:
    """The reads and writes through grafana-client (its auth, URL handling and errors)."""

    def __init__(self, url: str, credential: str | tuple[str, str] | None, timeout: float = 10.0) -> None:
        from grafana_client import GrafanaApi as Client

        self.api = Client.from_url(url, credential=credential, timeout=timeout)

    def get(self, path: str) -> Any:
        from grafana_client.client import GrafanaClientError

        try:
            return self.api.client.GET(path)
        except GrafanaClientError as error:
            if error.status_code == 404:
                return None
            raise

    def send(self, request: Request) -> Any:
        headers = {"X-Disable-Provenance": "true"} if request.path.startswith("/v1/provisioning") else None
        runner = getattr(self.api.client, request.method)
        return runner(request.path, json=request.body, headers=headers)


def push(grafana: GrafanaApi, wanted: Wanted, dry_run: bool, echo: Callable[[str], None],
         limit: int | None = 200) -> list[Request]:
    """Write (or, dry, only print) every change; the requests it made or would make."""
    made = []
    for request in plan(wanted, grafana):
        echo(("would send " if dry_run else "") + request.describe(limit))
        if not dry_run:
            grafana.send(request)
        made.append(request)
    return made
