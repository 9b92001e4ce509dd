"""``open_dossiers`` (migration 0008) on ClickHouse 18.16, kept by the sink's writer: after every batch, some
delivered twice, with the streams' transitions in their real order (a late event's pause after the
dossier's end) and a window of them sent again (the streams after a crash), and sweeps running between
batches, the open dossiers it gives are exactly ``dossiers_current``'s, and the domain core's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import orjson
import pytest
from clickhouse_driver import Client

from sinks.open_dossiers import Sweeper, touched
from sinks.processors import process_transitions
from sinks.writer import ClickHouseWriter
from tests.sinks.pipeline import (
    Record,
    batch_of,
    consumer_records,
    fresh_database,
    late_after_finished,
    open_dossier_rows,
    simulated_lines,
    streamed_transitions,
    summaries,
)
from wire.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

@pytest.fixture
def database(ch: Client, unique_name: str) -> Iterator[str]:
    yield fresh_database(ch, unique_name)
    ch.execute(f"DROP DATABASE IF EXISTS {unique_name}")


def _client(database: str) -> Client:
    return Client(**{**Settings().clickhouse_settings(), "database": database})


def test_touched_dossiers_have_their_first_acceptance_of_the_batch() -> None:
    def record(dossier_id: str, kind: str, at: str) -> Record:
        return dossier_id.encode(), orjson.dumps({
            "schema": "dossier-transition/1", "transition_id": f"{dossier_id}:{kind}:{at}", "dossier_id": dossier_id,
            "kind": kind, "at": at, "province": "01", "unit": "U", "procedure_code": "P", "procedure_field": "",
            "officer": "", "due_at": "2025-07-10T09:00:00+07:00"})
    messages = consumer_records("dossier.transitions", [
        record("A", "accepted", "2025-07-02T09:00:00+07:00"),
        record("B", "apology_issued", "2025-07-02T10:00:00+07:00"),
        record("C", "due_soon", "2025-07-03T09:00:00+07:00"),
        record("A", "accepted", "2025-07-01T09:00:00+07:00"),
        record("A", "finished", "2025-07-04T09:00:00+07:00"),
    ])
    rows = process_transitions("dossier.transitions", 0, messages)
    assert touched(rows.columns) == [("A", 1751335200), ("C", 0)]  # B's apology moves no standing


def test_open_dossiers_stay_exact_through_redelivery_late_transitions_and_sweeps(database: str) -> None:
    lines = simulated_lines(31, ["01", "79"], date(2025, 7, 1), date(2025, 7, 22), tick_every=3600)
    transitions = streamed_transitions(lines)
    third = len(transitions) // 3
    sent = transitions + transitions[third:2 * third]  # the streams re-send from a committed offset
    assert late_after_finished(sent) > 10  # pauses reported after the end, re-sent acceptances and timers
    chunks = [sent[i:i + 1500] for i in range(0, len(sent), 1500)]
    client = _client(database)
    writer = ClickHouseWriter(Settings().clickhouse_settings(), database, sweeper=Sweeper(database, 0, 0))
    try:
        for k, chunk in enumerate(chunks):
            assert writer.write(batch_of({"transitions": chunk})) == []
            if k % 3 == 2:  # the sink crashed before committing: the batch is read and written again
                assert writer.write(batch_of({"transitions": chunk})) == []
            in_table, in_dossiers = open_dossier_rows(client, database)
            assert in_table == in_dossiers, f"after batch {k}"
        assert writer.write(batch_of({"transitions": chunks[0]})) == []  # the oldest batch, long after the ends
        assert writer.sweeper.sweeps >= 3
        Sweeper(database, keep_closed=0).finish(client)
        in_table, expected = open_dossier_rows(client, database)
        assert in_table == expected
        core = summaries(lines)
        assert {row[0] for row in expected} == {d for d, s in core.items() if s.end_ts is None}
        accepted = client.execute("SELECT dossier_id, toUInt32(accepted_at) FROM open_dossiers_current")
        assert accepted and all(at == int(core[d].accepted_ts) for d, at in accepted)
        # what is left once swept: the open dossiers only (a copy each until merged)
        left: dict[int, Any] = dict(client.execute("SELECT open, uniqExact(dossier_id) FROM open_dossiers "
                                                   "GROUP BY open"))
        assert left == {1: len(expected)} and len(expected) < len(core) / 5
    finally:
        writer.close()
        client.disconnect()


def _transition(kind: str, at: str, province: str, unit: str) -> Record:
    return b"D", orjson.dumps({
        "schema": "dossier-transition/1", "transition_id": f"D:{kind}:{at}", "dossier_id": "D", "kind": kind,
        "at": at, "province": province, "unit": unit, "procedure_code": "P", "procedure_field": "F",
        "officer": "o1", "due_at": "2025-07-10T17:00:00+07:00"})


def test_a_dossier_whose_province_changed_is_open_under_its_current_province_only(database: str) -> None:
    """A late, earlier ``accepted`` from another province makes the streams' next transitions carry it: the
    old province's key gets a closed row, so the dossier is open once, where ``dossiers_current`` puts it."""
    client = _client(database)
    writer = ClickHouseWriter(Settings().clickhouse_settings(), database, sweeper=Sweeper(database, 0, 0))
    steps = [
        [_transition("accepted", "2025-07-02T09:00:00+07:00", "01", "U01")],
        [_transition("due_soon", "2025-07-09T17:00:00+07:00", "01", "U01")],
        [_transition("accepted", "2025-07-01T09:00:00+07:00", "79", "U79")],  # late: the acceptance moves
        [_transition("overdue", "2025-07-10T17:00:01+07:00", "79", "U79")],
        [_transition("finished", "2025-07-11T09:00:00+07:00", "79", "U79")],
        [_transition("paused", "2025-07-05T09:00:00+07:00", "79", "U79")],  # late again, after the end
    ]
    seen = []
    try:
        for step in steps:
            writer.write(batch_of({"transitions": step}))
            Sweeper(database, keep_closed=0).finish(client)
            rows = client.execute("SELECT province, unit, standing, toUInt32(accepted_at) FROM open_dossiers_current")
            in_table, in_dossiers = open_dossier_rows(client, database)
            assert in_table == in_dossiers and [r[:3] for r in rows] == [r[1:3] + r[6:7] for r in in_dossiers]
            seen.append(rows)
    finally:
        writer.close()
        client.disconnect()
    july_1, july_2 = 1751335200, 1751421600
    assert seen == [[("01", "U01", "accepted", july_2)], [("01", "U01", "due_soon", july_2)],
                    [("01", "U01", "due_soon", july_1)],  # the latest standing is still 01's due soon
                    [("79", "U79", "overdue", july_1)], [], []]
