"""`motcua audit diff` against a ClickHouse holding the rows and events the live pipeline would have stored."""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
import pytest
from clickhouse_driver import Client

from tests.audit.conftest import Log, alter_row, motcua

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

JUNE = ["--period", "month", "--from", "2025-06-01", "--to", "2025-07-01"]


def diff(log: Log, database: str, *args: str) -> Any:
    return motcua("audit", "diff", "--topic-prefix", log.prefix, "--no-progress", *args,
                  env={"MOTCUA_CLICKHOUSE_DATABASE": database}, check=False)


def test_no_difference_exits_0(log: Log, stored: str) -> None:
    for scope in ("province", "unit", "procedure"):
        done = diff(log, stored, *JUNE, "--scope", scope)
        assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
        assert b"no difference in" in done.stdout
    done = motcua("audit", "diff", "--events", str(log.file), *JUNE, "--scope", "field",
                  env={"MOTCUA_CLICKHOUSE_DATABASE": stored}, check=False)
    assert done.returncode == 0, done.stdout.decode()


def test_an_altered_row_is_named_with_its_measure_and_the_dossiers_counted_in_it(log: Log, stored: str,
                                                                                   ch: Client) -> None:
    alter_row(ch, stored, "province", "04", "2025-06-01", finished_late=1)
    done = diff(log, stored, *JUNE, "--scope", "province", "--format", "json")
    assert done.returncode == 1
    report = orjson.loads(done.stdout)
    assert report["differs"] and [(r["scope_id"], r["period_start"]) for r in report["differing"]] == [
        ("04", "2025-06-01")]
    measures = {m["measure"]: m for m in report["differing"][0]["measures"]}
    assert set(measures) >= {"finished_late", "overdue_rate"} and "on_time_rate" not in measures
    late = measures["finished_late"]
    assert late["stored"] == late["replayed"] + 1
    assert "stored row itself differs" in late["basis"]
    assert len(late["dossiers"]) == late["replayed"] and all(d["replayed"] == 1 for d in late["dossiers"])
    assert all(d["event_ids"] for d in late["dossiers"])

    text = diff(log, stored, *JUNE, "--scope", "province").stdout.decode()
    assert "province 04 month 2025-06-01" in text and f"finished_late: stored {late['stored']}" in text
    assert late["dossiers"][0]["dossier_id"] in text
    rows = list(csv.DictReader(io.StringIO(diff(log, stored, *JUNE, "--format", "csv").stdout.decode())))
    assert {r["dossier_id"] for r in rows if r["measure"] == "finished_late"} == {
        d["dossier_id"] for d in late["dossiers"]}
    markdown = diff(log, stored, *JUNE, "--format", "markdown").stdout.decode()
    assert "| finished_late |" in markdown
    assert diff(log, stored, *JUNE, "--scope", "unit").returncode == 0  # the other scopes were not touched


def test_a_dossier_missing_an_event_in_clickhouse_is_named_with_that_event(log: Log, stored: str,
                                                                           ch: Client) -> None:
    """The archive lost a dossier's resolution and return, and the stored row was counted without them."""
    late = diff(log, stored, *JUNE, "--scope", "province", "--format", "json")
    [(dossier_id,)] = ch.execute(
        f"SELECT dossier_id FROM {stored}.events WHERE type = 'returned' AND province = '11' "
        "AND occurred_at < '2025-06-25 00:00:00' ORDER BY dossier_id LIMIT 1")
    ends = sorted(e for (e,) in ch.execute(f"SELECT event_id FROM {stored}.events WHERE dossier_id = %(d)s "
                                          "AND type IN ('resolved', 'returned')", {"d": dossier_id}))
    assert late.returncode == 0
    ch.execute(f"ALTER TABLE {stored}.events DELETE WHERE dossier_id = %(d)s AND type IN ('resolved', 'returned')",
               {"d": dossier_id})
    _wait_for_mutations(ch, stored)
    alter_row(ch, stored, "province", "11", "2025-06-01", finished=-1, result_finished=-1)
    done = diff(log, stored, *JUNE, "--scope", "province", "--format", "json")
    assert done.returncode == 1
    [row] = orjson.loads(done.stdout)["differing"]
    finished = next(m for m in row["measures"] if m["measure"] == "finished")
    assert "differs between the log and ClickHouse's event archive" in finished["basis"]
    assert [(d["dossier_id"], d["stored"], d["replayed"], sorted(d["missing_from_archive"]))
            for d in finished["dossiers"]] == [(dossier_id, 0, 1, ends)]


def _wait_for_mutations(ch: Client, database: str) -> None:
    import time

    deadline = time.monotonic() + 60
    while ch.execute(f"SELECT count() FROM system.mutations WHERE database = '{database}' AND is_done = 0")[0][0]:
        assert time.monotonic() < deadline, "the mutation did not finish"
        time.sleep(0.2)


def test_usage_errors(log: Log, stored: str) -> None:
    assert diff(log, stored, *JUNE, "--format", "yaml").returncode == 2
    unreachable = motcua("audit", "diff", "--events", str(log.file), *JUNE, check=False,
                         env={"MOTCUA_CLICKHOUSE_PORT": "1", "MOTCUA_CLICKHOUSE_DATABASE": stored})
    assert unreachable.returncode == 2 and b"cannot read ClickHouse" in unreachable.stderr
