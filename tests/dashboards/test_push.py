"""`motcua dashboards push` against a real HTTP server on loopback answering like Grafana's API
(``grafana_api.py``): everything lands by uid, a second push writes nothing, a dry run writes nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import yaml

from dashboards.provisioning import PROVISIONING
from dashboards.screens import UIDS
from tests.dashboards.grafana_api import BASIC, TOKEN, grafana_api
from tests.sinks.pipeline import MOTCUA

ENV = {"MOTCUA_CLICKHOUSE_HOST": "ch.internal", "GRAFANA_CLICKHOUSE_PASSWORD": "s3cret"}


def _push(url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GRAFANA_")}
    return subprocess.run([MOTCUA, "dashboards", "push", "--url", url, *args], capture_output=True, text=True,
                          env={**clean, **ENV, **(env or {})}, check=False, timeout=60)


def test_a_push_puts_everything_by_uid_and_a_second_push_writes_nothing() -> None:
    with grafana_api() as (url, state):
        first = _push(url, "--token", TOKEN)
        assert first.returncode == 0, first.stdout + first.stderr
        assert set(state.folders) == {"motcua"}
        source = state.datasources["motcua-clickhouse"]
        assert source["jsonData"]["host"] == "ch.internal" and source["jsonData"]["username"] == "grafana"
        assert state.secrets["motcua-clickhouse"] == {"password": "s3cret"}
        assert "s3cret" not in first.stdout
        assert set(state.dashboards) == set(UIDS.values())
        for uid, stored in state.dashboards.items():
            committed = json.loads((PROVISIONING / "dashboards" / "json" / f"{uid}.json").read_text())
            assert {k: v for k, v in stored["dashboard"].items() if k not in ("id", "version")} == committed
            assert stored["meta"]["folderUid"] == "motcua"
        # the alerting file (dashboards/alerting.py): its rule group, the notifier's contact point, the policy
        assert [r["uid"] for r in state.rule_groups[("motcua", "motcua-pipeline")]["rules"]] == [
            "motcua-pipeline-stalled", "motcua-dlq-growing", "motcua-unit-on-time-rate"]
        assert state.contact_points["motcua-notify-webhook"]["type"] == "webhook"
        assert state.policies is not None and state.policies["receiver"] == "motcua-notify"
        assert len(state.writes()) == 1 + 1 + len(UIDS) + 3
        assert f"wrote {len(state.writes())} changes" in first.stdout

        state.requests.clear()
        again = _push(url, "--user", BASIC[0], "--password", BASIC[1])
        assert again.returncode == 0, again.stdout + again.stderr
        assert state.writes() == [] and state.requests, "a second push must only read"
        assert "Grafana already has them all" in again.stdout

        state.dashboards["motcua-ranking"]["dashboard"]["title"] = "edited in the UI"
        state.requests.clear()
        third = _push(url, "--token", TOKEN)
        assert [(m, p) for m, p, _ in state.writes()] == [("POST", "/api/dashboards/db")], third.stdout
        assert state.dashboards["motcua-ranking"]["dashboard"]["version"] == 2


def test_a_dry_run_prints_the_requests_and_sends_none() -> None:
    with grafana_api() as (url, state):
        dry = _push(url, "--token", TOKEN, "--dry-run", "--full")
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert state.writes() == [] and state.folders == {} and state.dashboards == {}
        lines = [line for line in dry.stdout.splitlines() if line.startswith("would send ")]
        assert lines[0].startswith('would send POST /api/folders {"title": "motcua", "uid": "motcua"}')
        assert any(line.startswith("would send POST /api/datasources ") and '"password": "[REDACTED]"' in line
                   for line in lines)
        assert sum(line.startswith("would send POST /api/dashboards/db ") for line in lines) == len(UIDS)
        assert "s3cret" not in dry.stdout and f"would write {len(lines)} changes" in dry.stdout


def test_a_wrong_credential_is_an_error_that_says_so() -> None:
    with grafana_api() as (url, state):
        refused = _push(url, "--token", "wrong")
        assert refused.returncode == 1 and "Unauthorized" in refused.stderr
        assert state.writes() == []


ALERTING = {
    "apiVersion": 1,
    "groups": [{"orgId": 1, "name": "sla", "folder": "motcua alerts", "interval": "1m", "rules": [{
        "uid": "overdue-rate", "title": "Tỷ lệ trễ hạn cao", "condition": "B", "for": "5m",
        "noDataState": "OK", "execErrState": "Error", "labels": {"team": "ops"},
        "annotations": {"summary": "overdue"},
        "data": [{"refId": "A", "datasourceUid": "motcua-clickhouse", "relativeTimeRange": {"from": 600, "to": 0},
                  "model": {"rawSql": "SELECT 1", "format": 1}}]}]}],
    "contactPoints": [{"orgId": 1, "name": "ops", "receivers": [
        {"uid": "ops-webhook", "type": "webhook", "settings": {"url": "http://127.0.0.1:9/hook"}}]}],
    "policies": [{"orgId": 1, "receiver": "ops", "group_by": ["alertname"]}],
    "templates": [{"orgId": 1, "name": "motcua", "template": "{{ define \"motcua\" }}x{{ end }}"}],
}


def test_the_alerting_directory_is_pushed_generically_and_idempotently(tmp_path: Path) -> None:
    tree = tmp_path / "provisioning"
    shutil.copytree(PROVISIONING, tree)
    (tree / "alerting" / "paging.yaml").write_text(yaml.safe_dump(ALERTING, allow_unicode=True))
    with grafana_api() as (url, state):
        first = _push(url, "--token", TOKEN, "--provisioning", str(tree))
        assert first.returncode == 0, first.stdout + first.stderr
        assert set(state.folders) == {"motcua", "motcua-alerts"}
        group = state.rule_groups[("motcua-alerts", "sla")]
        assert group["interval"] == 60 and group["rules"][0]["uid"] == "overdue-rate"
        assert group["rules"][0]["folderUID"] == "motcua-alerts" and group["rules"][0]["ruleGroup"] == "sla"
        assert state.contact_points["ops-webhook"]["settings"]["url"] == "http://127.0.0.1:9/hook"
        assert state.policies == {"receiver": "ops", "group_by": ["alertname"]}
        assert state.templates["motcua"]["template"].startswith("{{ define")

        state.requests.clear()
        assert _push(url, "--token", TOKEN, "--provisioning", str(tree)).returncode == 0
        assert state.writes() == []

        ALERTING["groups"][0]["rules"][0]["for"] = "10m"  # type: ignore[index]
        (tree / "alerting" / "paging.yaml").write_text(yaml.safe_dump(ALERTING, allow_unicode=True))
        state.requests.clear()
        assert _push(url, "--token", TOKEN, "--provisioning", str(tree)).returncode == 0
        assert [(m, p) for m, p, _ in state.writes()] == [
            ("PUT", "/api/v1/provisioning/folder/motcua-alerts/rule-groups/sla")]

        (tree / "alerting" / "paging.yaml").write_text(yaml.safe_dump({"deleteRules": [{"uid": "x"}]}))
        unknown = _push(url, "--token", TOKEN, "--provisioning", str(tree))
        assert unknown.returncode == 1 and "deleteRules" in unknown.stderr
