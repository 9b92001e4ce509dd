"""The committed provisioning tree is a fresh build, and the dashboards' JSON is what Grafana expects."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import datasource
from grafana_foundation_sdk.models.dashboard import Dashboard

from dashboards import clickhouse
from dashboards.check import shared_source
from dashboards.provisioning import PROVISIONING, dashboard_json, files
from dashboards.screens import BUILDERS, UIDS


def test_the_committed_files_are_a_fresh_build() -> None:
    fresh = files()
    on_disk = {p.relative_to(PROVISIONING).as_posix(): p.read_text(encoding="utf-8")
               for p in PROVISIONING.glob("**/*") if p.is_file()}
    assert set(on_disk) == set(fresh), "run `motcua dashboards build` and commit dashboards/provisioning"
    for path, text in fresh.items():
        assert on_disk[path] == text, f"{path} differs from a fresh build: run `motcua dashboards build`"


@pytest.mark.parametrize("key", list(BUILDERS))
def test_decoding_and_encoding_through_the_sdk_gives_the_json_back(key: str) -> None:
    clickhouse.register()
    encoded = dashboard_json(key)
    decoded = Dashboard.from_json(encoded)
    assert json.loads(json.dumps(decoded, cls=JSONEncoder)) == encoded
    for panel in decoded.panels or []:  # ClickHouse queries, or another panel's result (Dashboard datasource)
        shares = panel.datasource is not None and panel.datasource.uid == clickhouse.SHARED.uid
        kind = datasource.Dataquery if shares else clickhouse.ClickHouseQuery
        assert all(isinstance(t, kind) for t in panel.targets or []), panel.title


def _cells(panel: dict[str, Any]) -> set[tuple[int, int]]:
    g = panel["gridPos"]
    return {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}


@pytest.mark.parametrize("key", list(BUILDERS))
def test_ids_are_unique_panels_do_not_overlap_and_every_datasource_resolves(key: str) -> None:
    board = dashboard_json(key)
    datasources = yaml.safe_load(files()["datasources/clickhouse.yaml"])["datasources"]
    uids = {d["uid"]: d["type"] for d in datasources} | {clickhouse.SHARED.uid: clickhouse.SHARED.type_val}
    panels = board["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    taken: set[tuple[int, int]] = set()
    for panel in panels:
        cells = _cells(panel)
        assert all(0 <= x < 24 for x, _ in cells), panel["title"]
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells
        refs = [panel["datasource"], *(t["datasource"] for t in panel["targets"])]
        refs += [v["datasource"] for v in board.get("templating", {}).get("list", []) if "datasource" in v]
        assert all(uids.get(r["uid"]) == r["type"] for r in refs), panel["title"]
    assert board["timezone"] == "Asia/Ho_Chi_Minh" and board["uid"] == UIDS[key]
    links = {link["url"] for link in board["links"]}
    assert links == {f"/d/{uid}" for other, uid in UIDS.items() if other != key}


def test_the_wall_screen_refreshes_every_10_s_and_shows_percentages() -> None:
    board = dashboard_json("province")
    assert board["refresh"] == "10s"
    stats = [p for p in board["panels"] if p["type"] == "stat"]
    assert len(stats) == 18 and all(p["fieldConfig"]["defaults"]["unit"] == "percentunit" for p in stats)
    # one query for the 18 stats: the first runs it, the others show a column of its result
    source = stats[0]
    assert [shared_source(p) for p in stats] == [None] + [source["id"]] * 17
    fields = [p["options"]["reduceOptions"]["fields"] for p in stats]
    assert len(set(fields)) == 18
    assert all(f"AS {field.strip('/^$')}" in source["targets"][0]["rawSql"] for field in fields)
    variables = board["templating"]["list"]
    assert [v["name"] for v in variables] == ["hierarchy", "province", "unit", "procedure", "field"]
    assert all(v["multi"] and v["includeAll"] for v in variables[1:])
    assert variables[0]["query"] == "legacy,2025" and not variables[0]["multi"] and not variables[0]["includeAll"]


@pytest.mark.parametrize("key", ["province", "drilldown", "ranking", "timeline"])
def test_every_screen_with_a_province_drop_down_chooses_the_hierarchy_first(key: str) -> None:
    """The province drop-down's options and every province condition depend on it (DOMAIN.md section 5)."""
    names = [v["name"] for v in dashboard_json(key)["templating"]["list"]]
    assert names.index("hierarchy") < names.index("province")


_REFERENCE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


@pytest.mark.parametrize("key", list(BUILDERS))
def test_every_variable_a_query_names_exists_and_every_link_opens_a_dashboard(key: str) -> None:
    board = dashboard_json(key)
    names = {v["name"] for v in board.get("templating", {}).get("list", [])}
    queries = [t["rawSql"] for p in board["panels"] for t in p["targets"] if "rawSql" in t]
    queries += [v["query"] for v in board.get("templating", {}).get("list", []) if v["type"] == "query"]
    for sql in queries:
        for match in _REFERENCE.finditer(sql):
            name = next(g for g in match.groups() if g)
            assert name in names or name.startswith("__"), f"{key}: ${name} is not a variable"  # or a macro
    urls = [link["url"] for link in board["links"]]
    urls += [link["url"] for p in board["panels"] for o in p.get("fieldConfig", {}).get("overrides", [])
             for prop in o["properties"] if prop["id"] == "links" for link in prop["value"]]
    for url in urls:
        assert url.startswith("/d/") and url[3:].split("?")[0] in UIDS.values(), url
