"""The ClickHouse writer on the real server: refused rows isolated, an unreachable server retried."""

from __future__ import annotations

import threading

import orjson
import pytest
from aiokafka.structs import ConsumerRecord
from clickhouse_driver import Client

from sinks.batch import Batch
from sinks.processors import process_transitions
from sinks.writer import Backoff, ClickHouseWriter, Stopped
from stack.services import free_port
from tests.sinks.pipeline import fresh_database
from wire.settings import Settings

pytestmark = pytest.mark.integration


def _transition(i: int, at: str = "2025-07-02T09:00:00+07:00") -> ConsumerRecord[bytes, bytes]:
    """A valid transition record (events out of DateTime's range are refused before, by the decoder)."""
    value = orjson.dumps({
        "schema": "dossier-transition/1", "transition_id": f"D{i}:accepted:{at}", "dossier_id": f"D{i}",
        "kind": "accepted", "at": at, "province": "01", "unit": "U", "procedure_code": "P",
        "procedure_field": None, "officer": None, "due_at": "2025-07-04T09:00:00+07:00",
    })
    return ConsumerRecord("dossier.transitions", 0, i, 0, 0, None, value, None, 0, len(value), [])


def test_rows_clickhouse_refuses_are_returned_alone_and_the_rest_stored(ch: Client, unique_name: str) -> None:
    database = fresh_database(ch, unique_name)
    try:
        messages = [_transition(i) for i in range(1000)]
        messages[137] = _transition(137, "1969-12-31T23:00:00+07:00")  # before DateTime's range
        messages[800] = _transition(800, "2150-01-01T00:00:00+07:00")  # after it
        batch = Batch()
        batch.add("dossier.transitions", 0, messages, process_transitions("dossier.transitions", 0, messages))
        inserted: list[int] = []
        writer = ClickHouseWriter(Settings().clickhouse_settings(), database,
                                  on_insert=lambda _table, rows, _seconds: inserted.append(rows))
        refused = writer.write(batch)
        writer.close()
        assert [r.message.offset for r in refused] == [137, 800]
        assert all(r.stage == "sink" and "transitions" in r.reason for r in refused)
        assert ch.execute(f"SELECT count() FROM {database}.transitions")[0][0] == 998 == sum(inserted)
    finally:
        ch.execute(f"DROP DATABASE IF EXISTS {database}")


def test_each_batch_is_logged_per_partition_and_a_missing_log_table_holds_nothing_back(ch: Client,
                                                                                       unique_name: str) -> None:
    messages = [_transition(i) for i in range(10, 40)]
    batch = Batch()
    batch.add("dossier.transitions", 3, messages[:20], process_transitions("dossier.transitions", 3, messages[:20]))
    batch.add("dossier.transitions", 3, messages[20:], process_transitions("dossier.transitions", 3, messages[20:]))
    batch.highwater[("dossier.transitions", 3)] = 100
    try:
        database = fresh_database(ch, unique_name)
        writer = ClickHouseWriter(Settings().clickhouse_settings(), database)
        assert writer.write(batch) == []  # the first batch's rows are inserted at once
        rows = ch.execute(f"SELECT topic, partition, first_offset, next_offset, records, rows, lag, write_ms > 0, "
                          f"abs(toUInt32(written_at) - toUInt32(now())) < 60 FROM {database}.sink_batches")
        assert rows == [("dossier.transitions", 3, 10, 40, 30, 30, 60, 1, 1)]
        assert writer.write(batch) == []  # the next wait for LOG_EVERY seconds, or the writer's close
        assert ch.execute(f"SELECT count() FROM {database}.sink_batches")[0][0] == 1
        writer.close()
        assert ch.execute(f"SELECT count() FROM {database}.sink_batches")[0][0] == 2
        ch.execute(f"DROP TABLE {database}.sink_batches")  # a database not migrated to 0006 yet
        writer = ClickHouseWriter(Settings().clickhouse_settings(), database)
        assert writer.write(batch) == []  # once, no retry loop: the data is what matters
        writer.close()
        assert ch.execute(f"SELECT count() FROM {database}.transitions")[0][0] == 90
    finally:
        ch.execute(f"DROP DATABASE IF EXISTS {unique_name}")


def test_an_unreachable_server_is_retried_with_backoff_until_stopped() -> None:
    stop = threading.Event()
    errors: list[BaseException] = []
    settings = {**Settings().clickhouse_settings(), "port": free_port()}  # nothing listens there
    writer = ClickHouseWriter(settings, "default", Backoff(0.05, 0.2), stop, on_retry=errors.append)
    messages = [_transition(1)]
    batch = Batch()
    batch.add("dossier.transitions", 0, messages, process_transitions("dossier.transitions", 0, messages))
    threading.Timer(1.5, stop.set).start()
    with pytest.raises(Stopped):
        writer.write(batch)
    assert len(errors) >= 5  # 0.05 + 0.1 + 0.2 + 0.2 + ... within 1.5 s
