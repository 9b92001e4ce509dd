"""The 2025 province merger (DOMAIN.md section 5): the mapping as a table, and the KPI rows re-aggregated.

``province_merger_2025`` holds the package data of ``dossier.merger`` (one row per former province: its GSO
code and name, the QĐ 19/2025 code and name of the province it became part of, its validity interval and
the legal source); it deduplicates by ``old_code`` (a rerun of the INSERT is harmless: reads group by it).

``kpis_latest_2025`` is ``kpis_latest`` in the 34 provinces: a province row is the sum of the counts of
the former provinces' rows (codes in force since the merger map to themselves), its rates recomputed from
the summed counts (``dossier.kpi.RATES``), never averaged; provisional when any part is, its watermark the
least of theirs. Unit, procedure and field rows are unchanged. The statements are built from the package
data and the rate definitions, so that changing either changes this migration's checksum: the runner then
refuses the database until a new migration says what changed.
"""

from __future__ import annotations

from dossier.catalog import province
from dossier.kpi import COUNT_FIELDS
from dossier.merger import former_provinces
from sinks.rates_sql import rates_sql


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


_ROWS = "\n    UNION ALL ".join(  # INSERT ... SELECT: the server reads it (clickhouse-driver sends no VALUES text)
    f"SELECT {_quoted(p.code)}, {_quoted(p.name)}, {_quoted(p.new_code)}, {_quoted(province(p.new_code).name)}, "
    f"toDate('{p.valid_from}'), toDate('{p.valid_to}'), {_quoted(p.source)}"
    for p in former_provinces()
)
_SUMS = ",\n            ".join(f"sum({name}) AS {name}" for name in COUNT_FIELDS)

STATEMENTS = (
    """
    CREATE TABLE IF NOT EXISTS {db}.province_merger_2025 (
        old_code String,
        old_name String,
        new_code String,
        new_name String,
        valid_from Date,
        valid_to Date,
        source String
    ) ENGINE = ReplacingMergeTree
    ORDER BY old_code
    """,
    f"""
    INSERT INTO {{db}}.province_merger_2025 (old_code, old_name, new_code, new_name, valid_from, valid_to, source)
    {_ROWS}
    """,
    f"""
    CREATE VIEW IF NOT EXISTS {{db}}.kpis_latest_2025 AS
    SELECT
        scope,
        scope_2025 AS scope_id,
        period,
        period_start,
        {", ".join(COUNT_FIELDS)},
        provisional,
        watermark,
        {rates_sql()}
    FROM (
        SELECT
            scope,
            scope_2025,
            period,
            period_start,
            {_SUMS},
            max(provisional) AS provisional,
            min(watermark) AS watermark
        FROM (
            SELECT *, if(scope = 'province' AND new_code != '', new_code, scope_id) AS scope_2025
            FROM {{db}}.kpis_latest
            ANY LEFT JOIN (
                SELECT old_code AS scope_id, any(new_code) AS new_code
                FROM {{db}}.province_merger_2025
                GROUP BY old_code
            ) AS merger USING scope_id
        )
        GROUP BY scope, scope_2025, period, period_start
    )
    """,
)
