"""The named SQL files users need (``dashboards/sql/*.sql``), loaded and filled in with their parameters.

Each file is one SELECT over the deduplicated views, with ``%(name)s`` parameters that clickhouse-driver
substitutes client-side (so they run on ClickHouse 18.16 as on a current release) and unqualified table
names that resolve in the connection's database.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from clickhouse_driver.util.escape import escape_params

SQL_DIR = Path(__file__).parent / "sql"


@cache
def query(name: str) -> str:
    """The text of ``dashboards/sql/<name>.sql``."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def names() -> list[str]:
    return sorted(p.stem for p in Path(SQL_DIR).glob("*.sql"))


def render(name: str, params: dict[str, Any]) -> str:
    """The query with its parameters written in as SQL literals (for engines without client substitution)."""
    return query(name) % escape_params(params, None)
