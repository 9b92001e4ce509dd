"""The rollup's partial rows: the cache in front of the partials table reads what the table holds."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams import app
from streams.app import VANISHED, _partial_key, _TablePartials
from streams.store import DiskTable

KEYS = ["unit/U1/day/2025-07-01", "unit/U1/day/2025-07-02", "province/79/month/2025-07-01"]
PROVINCES = ["01", "48", "79"]

writes = st.lists(
    st.tuples(
        st.sampled_from(KEYS),
        st.sampled_from(PROVINCES),
        st.integers(0, 30),  # the version: the offset of the record that wrote it, re-read ones included
        st.none() | st.integers(1, 99),  # to_process, None: vanished
        st.booleans(),  # whether the rollup reads the key right after this write
    ),
    max_size=60,
)


def _partial(key: str, province: str, to_process: int) -> dict[str, object]:
    return {"province": province, "row": key, "to_process": to_process}


@settings(max_examples=200, deadline=None)
@given(writes)
def test_reads_through_the_cache_equal_fresh_reads_of_the_table(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, str, int, int | None, bool]]
) -> None:
    table = DiskTable(tmp_path_factory.mktemp("partials") / "t.sqlite")
    cached = _TablePartials(table, 0)
    saved, app.PARTIALS_CACHED = app.PARTIALS_CACHED, 2  # fewer than the keys: evictions too
    try:
        for key, province, version, to_process, read in ops:
            partial = None if to_process is None else _partial(key, province, to_process)
            table.put(_partial_key(key, province), VANISHED if partial is None else orjson.dumps(partial), 0, version)
            cached.put(key, province, partial, version)
            if read:
                cached.of(key)
        for key in KEYS:
            assert cached.of(key) == _TablePartials(table, 0).of(key)
    finally:
        app.PARTIALS_CACHED = saved
        table.close()


def test_an_older_write_read_again_after_a_recovery_does_not_replace_a_newer_one(tmp_path: Path) -> None:
    table = DiskTable(tmp_path / "t.sqlite")
    key = KEYS[0]
    table.put(_partial_key(key, "79"), orjson.dumps(_partial(key, "79", 5)), 0, 10)
    table.put(_partial_key(key, "01"), VANISHED, 0, 11)
    rows = _TablePartials(table, 0)
    assert rows.of(key) == {"79": _partial(key, "79", 5)}
    rows.put(key, "79", _partial(key, "79", 3), 7)  # the table ignores it too
    rows.put(key, "01", _partial(key, "01", 2), 9)
    assert rows.of(key) == {"79": _partial(key, "79", 5)}
    rows.put(key, "79", None, 12)
    assert rows.of(key) == {}
