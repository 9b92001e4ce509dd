"""The dashboards' ClickHouse user, `grafana` (readonly=2, stack/conf/clickhouse-users.xml): it runs every
variable and panel query, may set the query settings the plugin sends, and is refused every write."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from clickhouse_driver import Client
from clickhouse_driver.errors import ServerException

from dashboards.check import check_dashboard
from dashboards.provisioning import READONLY_USER, dashboard_json
from dashboards.screens import BUILDERS
from tests.dashboards.test_panels import RANGE
from tests.sinks.test_queries import Landed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
READONLY = 164  # ClickHouse's READONLY error code


@pytest.fixture(scope="module")
def grafana(landed: Landed, clickhouse_ready: dict[str, Any]) -> Iterator[Client]:
    database = landed.server.connection.database
    client = Client(**{**clickhouse_ready, "user": READONLY_USER, "database": database},  # type: ignore[arg-type]
                    settings={"max_execution_time": 30})
    yield client
    client.disconnect()


def test_it_runs_every_panel_query_with_the_plugins_settings(landed: Landed, grafana: Client) -> None:
    dossier_id = landed.summaries[0].dossier_id
    for key in BUILDERS:
        board = dashboard_json(key)
        as_grafana = check_dashboard(grafana, board, *RANGE, {"dossier_id": [dossier_id]})
        as_owner = check_dashboard(landed.server, board, *RANGE, {"dossier_id": [dossier_id]})
        assert [o.error for o in as_grafana] == [""] * len(as_grafana), key
        assert [o.rows for o in as_grafana] == [o.rows for o in as_owner], key
    assert grafana.execute("SELECT value FROM system.settings WHERE name = 'max_execution_time'") == [("30",)]
    grafana.execute("SET max_execution_time = 45")  # readonly=2: settings may change, data may not


@pytest.mark.parametrize("statement", [
    "INSERT INTO kpis (scope, scope_id, period, period_start) VALUES ('province', '01', 'day', '2025-07-01')",
    "ALTER TABLE kpis ADD COLUMN extra UInt8",
    "DROP TABLE kpis",
    "CREATE TABLE sneaky (a UInt8) ENGINE = Memory",
    "SET readonly = 0",
])
def test_it_is_refused_every_write(grafana: Client, landed: Landed, statement: str) -> None:
    with pytest.raises(ServerException) as refused:
        grafana.execute(statement)
    assert refused.value.code == READONLY
    assert landed.server.execute("EXISTS TABLE kpis") == [(1,)]


def test_production_defines_the_same_user_for_the_compose_server() -> None:
    """The current server of docker-compose reads the user from users.d (no server runs it here)."""
    import xml.etree.ElementTree as ET
    from pathlib import Path

    import yaml

    from dashboards.provisioning import files

    root = Path(__file__).parents[2]
    config = ET.parse(root / "dashboards/clickhouse-users.d/grafana.xml").getroot()
    user = config.find(f"users/{READONLY_USER}")
    assert user is not None and user.findtext("profile") == READONLY_USER
    assert user.find("password").attrib == {"from_env": "GRAFANA_CLICKHOUSE_PASSWORD"}  # type: ignore[union-attr]
    assert [q.text for q in user.findall("grants/query")] == ["GRANT SELECT ON motcua.*"]
    profile = config.find(f"profiles/{READONLY_USER}")
    assert profile is not None and profile.findtext("readonly") == "2"
    assert profile.findtext("constraints/readonly/min") == profile.findtext("constraints/readonly/max") == "2"
    compose = yaml.safe_load((root / "docker-compose.yml").read_text())
    mount = "./dashboards/clickhouse-users.d/grafana.xml:/etc/clickhouse-server/users.d/grafana.xml:ro"
    assert mount in compose["services"]["clickhouse"]["volumes"]
    datasource = yaml.safe_load(files()["datasources/clickhouse.yaml"])["datasources"][0]
    assert datasource["jsonData"]["username"] == READONLY_USER and datasource["jsonData"]["protocol"] == "native"
    assert "GRAFANA_CLICKHOUSE_PASSWORD" in compose["services"]["grafana"]["environment"]
