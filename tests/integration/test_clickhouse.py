"""The real ClickHouse server (Debian's 18.16) through clickhouse-driver, and its HTTP port."""

from __future__ import annotations

import urllib.request

import pytest
from clickhouse_driver import Client

from wire.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ROWS = 100_000


def test_insert_and_read_back_100k_rows(ch: Client, unique_name: str) -> None:
    ch.execute(
        f"CREATE TABLE {unique_name} (id UInt64, dossier_id String, province LowCardinality(String), "
        f"occurred_at DateTime, minutes Float64) ENGINE = MergeTree ORDER BY id"
    )
    try:
        ids = list(range(ROWS))
        columns = [
            ids,
            [f"000.00.01.H26-250702-{i:06d}" for i in ids],
            [f"{i % 34 + 1:02d}" for i in ids],
            [1_751_414_400 + i * 60 for i in ids],  # 2025-07-02 00:00 UTC, one a minute
            [i / 4 for i in ids],
        ]
        inserted = ch.execute(f"INSERT INTO {unique_name} VALUES", columns, columnar=True)
        assert inserted == ROWS
        count, total, provinces = ch.execute(f"SELECT count(), sum(id), uniqExact(province) FROM {unique_name}")[0]
        assert (count, total, provinces) == (ROWS, ROWS * (ROWS - 1) // 2, 34)
        back = ch.execute(f"SELECT id, dossier_id, province, minutes FROM {unique_name} ORDER BY id", columnar=True)
        assert list(back[0]) == ids
        assert list(back[1]) == columns[1]
        assert list(back[2]) == columns[2]
        assert list(back[3]) == columns[4]
        last = ch.execute(f"SELECT toString(occurred_at) FROM {unique_name} WHERE id = {ROWS - 1}")[0][0]
        assert last == "2025-09-09 10:39:00"  # 99,999 minutes later, in the server's UTC
    finally:
        ch.execute(f"DROP TABLE IF EXISTS {unique_name}")


def test_server_is_the_local_18_16_and_answers_http(ch: Client) -> None:
    version = ch.execute("SELECT version()")[0][0]
    assert version.startswith("18.16")
    with urllib.request.urlopen(Settings().clickhouse_http_url() + "?query=SELECT%201", timeout=10) as response:
        assert response.read().strip() == b"1"
