"""chDB: the current ClickHouse engine in-process, where SQL is proven to work on a recent release."""

from __future__ import annotations

import chdb
import pytest

pytestmark = pytest.mark.integration


def test_chdb_runs_a_query() -> None:
    assert chdb.query("SELECT 1", "CSV").bytes().strip() == b"1"


def test_chdb_is_a_current_engine() -> None:
    version = chdb.query("SELECT version()", "CSV").bytes().decode().strip().strip('"')
    assert int(version.split(".")[0]) >= 24
    # DateTime64 and toStartOfInterval exist here, unlike on the local 18.16 server
    out = chdb.query(
        "SELECT toStartOfInterval(toDateTime64('2025-07-02 10:17:31.250', 3, 'Asia/Ho_Chi_Minh'), "
        "INTERVAL 15 MINUTE)",
        "CSV",
    )
    assert out.bytes().decode().strip() == '"2025-07-02 10:15:00"'
