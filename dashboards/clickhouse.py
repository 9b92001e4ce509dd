"""The ClickHouse datasource (``grafana-clickhouse-datasource``) for grafana-foundation-sdk, which has no
builder for it: a typed query model (the plugin's ``CHSqlQuery``, ``src/types/sql.ts``), its builder, and
the registration that lets ``Dashboard.from_json`` decode it back."""

from __future__ import annotations

import typing
from enum import IntEnum, StrEnum

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import datasource as shared
from grafana_foundation_sdk.models.common import DataSourceRef

PLUGIN = "grafana-clickhouse-datasource"
DATASOURCE_UID = "motcua-clickhouse"
DATASOURCE = DataSourceRef(type_val=PLUGIN, uid=DATASOURCE_UID)
#: Grafana's built-in Dashboard datasource: a panel shows another panel's result (one query, several panels).
SHARED = DataSourceRef(type_val="datasource", uid="-- Dashboard --")


class Format(IntEnum):
    """The plugin's ``Format`` (what the backend makes of the rows)."""

    TIMESERIES = 0
    TABLE = 1


class QueryType(StrEnum):
    TABLE = "table"
    TIMESERIES = "timeseries"


class ClickHouseQuery(cogvariants.Dataquery):
    """A raw-SQL query of the ClickHouse plugin (``editorType: sql``)."""

    def __init__(self, ref_id: str = "A", raw_sql: str = "", fmt: Format = Format.TABLE,
                 query_type: QueryType = QueryType.TABLE, datasource: DataSourceRef | None = None,
                 plugin_version: str = "", hide: bool | None = None) -> None:
        self.ref_id = ref_id
        self.raw_sql = raw_sql
        self.format = fmt
        self.query_type = query_type
        self.datasource = datasource or DATASOURCE
        self.plugin_version = plugin_version
        self.hide = hide

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "refId": self.ref_id,
            "datasource": self.datasource.to_json(),
            "editorType": "sql",
            "pluginVersion": self.plugin_version,
            "rawSql": self.raw_sql,
            "format": int(self.format),
            "queryType": str(self.query_type),
        }
        if self.hide is not None:
            payload["hide"] = self.hide
        return payload

    @classmethod
    def from_json(cls, data: dict[str, typing.Any]) -> typing.Self:
        if data.get("editorType", "sql") != "sql":
            raise ValueError("only raw-SQL ClickHouse queries are built here")
        return cls(ref_id=data.get("refId", "A"), raw_sql=data.get("rawSql", ""), fmt=Format(data.get("format", 1)),
                   query_type=QueryType(data.get("queryType", "table")),
                   datasource=DataSourceRef.from_json(data["datasource"]) if "datasource" in data else None,
                   plugin_version=data.get("pluginVersion", ""), hide=data.get("hide"))


class Query(cogbuilder.Builder[ClickHouseQuery]):
    """Builder of a raw-SQL ClickHouse query."""

    def __init__(self, raw_sql: str, ref_id: str = "A") -> None:
        self._internal = ClickHouseQuery(ref_id=ref_id, raw_sql=raw_sql)

    def build(self) -> ClickHouseQuery:
        return self._internal

    def time_series(self) -> typing.Self:
        self._internal.format, self._internal.query_type = Format.TIMESERIES, QueryType.TIMESERIES
        return self


def register() -> None:
    """Let the SDK's decoders (``Dashboard.from_json``) read our targets back: ``ClickHouseQuery``, and the
    Dashboard datasource's ``datasource.Dataquery`` (a panel showing another's result)."""
    cogruntime.register_dataquery_variant(cogruntime.DataqueryConfig(identifier=PLUGIN,
                                                                     from_json_hook=ClickHouseQuery.from_json))
    cogruntime.register_dataquery_variant(shared.variant_config())
