"""A chDB session behind the same ``execute(sql) -> rows`` the migrations and queries use with a server."""

from __future__ import annotations

from typing import Any

import orjson
from chdb import session


class ChdbExecutor:
    """Statements run in one in-process chDB session (a current ClickHouse engine); rows come back as tuples."""

    def __init__(self) -> None:
        self.session = session.Session()

    def execute(self, query: str, with_column_types: bool = False) -> Any:
        """Rows as tuples; with ``with_column_types``, (rows, [(name, type)]) as clickhouse-driver gives them."""
        result = self.session.query(query, "JSONCompact")
        data = result.bytes() if result is not None else b""
        answer = orjson.loads(data) if data.strip() else {"data": [], "meta": []}
        rows = [tuple(row) for row in answer["data"]]
        return (rows, [(c["name"], c["type"]) for c in answer["meta"]]) if with_column_types else rows

    def insert_json_rows(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Insert rows given as dicts (instants as epoch seconds), in ClickHouse's JSONEachRow format."""
        if rows:
            body = b"\n".join(orjson.dumps(row) for row in rows).decode()
            self.session.query(f"INSERT INTO {table} FORMAT JSONEachRow\n{body}")

    def close(self) -> None:
        self.session.close()
