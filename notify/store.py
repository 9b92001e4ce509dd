"""The durable delivery state: the ``notifications`` table (sinks/migrations/m0005_notifications.py).

Every page state the core returns becomes a row; the latest row per (``alert_id``, ``recipient``) is the
page's state. The service records rows before committing the offsets that caused them, reads back the
open pages of the partitions it is assigned, asks which alerts it already knows (so a replay of the log
pages no one), and asks the sink's ``transitions`` which dossiers have finished. One clickhouse-driver
connection, used from one thread at a time (the service's store thread).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Sequence
from typing import Any

from clickhouse_driver import Client

from notify.model import Alert, Contact, Page
from notify.roster import Roster, Seen
from notify.routing import PROVINCE_OFFICE
from wire.runtime import clickhouse_client

TABLE = "notifications"
COLUMNS = (
    "alert_id", "recipient", "kind", "alert_at", "province", "unit", "dossier_id", "procedure_code", "due_at",
    "summary", "role", "route", "level", "channel", "status", "attempts", "release_at", "sent_at", "acked_at",
    "acked_by", "escalated_to", "message_id", "error", "owner", "clock_at", "version",
)
_INSTANTS = ("alert_at", "due_at", "release_at", "sent_at", "acked_at", "clock_at")
#: The latest rows' columns as the core reads them: instants as epoch seconds.
_SELECT = ", ".join(f"toUInt32({c}) AS {c}" if c in _INSTANTS else c for c in COLUMNS if c != "version")
CHUNK = 2000  # ids per IN list (ClickHouse 18.16's max_query_size is 256 KiB)


def _seconds(ts: float | None) -> int | None:
    return None if ts is None else int(ts)


class Versions:
    """Strictly increasing row versions: nanoseconds of the wall clock, never repeated within a process."""

    def __init__(self) -> None:
        self._last = 0

    def __call__(self) -> int:
        self._last = max(time.time_ns(), self._last + 1)
        return self._last


def page_row(page: Page, clock: float, version: int) -> tuple[Any, ...]:
    """A page's state as a row of ``notifications``, in ``COLUMNS`` order."""
    a, c = page.alert, page.contact
    return (
        a.alert_id, page.recipient, a.kind, int(a.at), a.province, a.unit, a.dossier_id, a.procedure_code,
        _seconds(a.due_at), a.summary, c.role if c else "", page.route, page.level, c.channel if c else "",
        page.status, min(page.attempts, 65535), int(page.release_at), _seconds(page.sent_at),
        _seconds(page.acked_at), page.acked_by, page.escalated_to, page.message_id, page.error[:500], page.owner,
        int(clock), version,
    )


def row_page(row: dict[str, Any], roster: Roster) -> Page:
    """A stored row back as a page; its contact is looked up in the roster (URLs are never stored).

    An official no longer on the roster keeps the page with an empty URL: its delivery fails over.
    """
    alert = Alert(row["alert_id"], row["kind"], float(row["alert_at"]), row["province"], row["unit"],
                  row["dossier_id"], "", row["procedure_code"],
                  None if row["due_at"] is None else float(row["due_at"]), row["summary"])
    contact = None
    if row["recipient"]:
        contact = roster.contact(row["recipient"], row["role"]) or Contact(row["recipient"], row["unit"],
                                                                           row["role"], "", "")
    return Page(alert, contact, row["route"], row["level"], row["owner"], row["status"], float(row["release_at"]),
                row["attempts"], None if row["sent_at"] is None else float(row["sent_at"]),
                None if row["acked_at"] is None else float(row["acked_at"]), row["acked_by"], row["escalated_to"],
                row["message_id"], row["error"])


def _chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    it = iter(values)
    while chunk := list(itertools.islice(it, CHUNK)):
        yield chunk


class Store:
    def __init__(self, connection: dict[str, Any], database: str) -> None:
        self.database = database
        self._client: Client = clickhouse_client(connection, database=database, connect_timeout=3,
                                                 send_receive_timeout=30)

    def close(self) -> None:
        self._client.disconnect()

    def _query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        rows, columns = self._client.execute(sql, params, with_column_types=True)
        names = [name for name, _ in columns]
        return [dict(zip(names, r, strict=True)) for r in rows]

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            self._client.execute(f"INSERT INTO {self.database}.{TABLE} ({', '.join(COLUMNS)}) VALUES", list(rows))

    def known(self, alert_ids: Iterable[str]) -> set[str]:
        """Which of these alerts have any row (were admitted before: a replay pages no one).

        The ids travel as an external table: one query however many (a Kafka batch holds thousands)."""
        ids = [{"alert_id": a} for a in set(alert_ids)]
        if not ids:
            return set()
        rows = self._client.execute(
            f"SELECT DISTINCT alert_id FROM {self.database}.{TABLE} WHERE alert_id IN _ids",
            external_tables=[{"name": "_ids", "structure": [("alert_id", "String")], "data": ids}])
        return {r[0] for r in rows}

    def _latest(self, condition: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The latest row of every page of the alerts that match ``condition`` (on the latest rows)."""
        view = f"{self.database}.{TABLE}_latest"
        return self._query(
            f"SELECT {_SELECT} FROM {view} WHERE alert_id IN (SELECT alert_id FROM {view} WHERE {condition})", params)

    def open_pages(self, owners: Iterable[int], escalating: Iterable[str], roster: Roster) -> list[Page]:
        """Every page of the alerts owned by these partitions that something may still happen to: a page held or
        queued, or sent below the province office for a kind that escalates."""
        rows = self._latest(
            "owner IN %(owners)s AND (status IN ('held', 'queued') OR (status = 'sent' "
            f"AND level < {PROVINCE_OFFICE} AND kind IN %(kinds)s))",
            {"owners": tuple(owners), "kinds": tuple(escalating) or ("",)})
        return [row_page(r, roster) for r in rows]

    def pages_of(self, alert_ids: Iterable[str], roster: Roster) -> list[Page]:
        pages: list[Page] = []
        for chunk in _chunks(alert_ids):
            pages += [row_page(r, roster) for r in self._latest("alert_id IN %(ids)s", {"ids": tuple(chunk)})]
        return pages

    def alerts_of_message(self, message_id: str) -> list[str]:
        rows = self._client.execute(
            f"SELECT DISTINCT alert_id FROM {self.database}.{TABLE} WHERE message_id = %(m)s", {"m": message_id})
        return sorted(r[0] for r in rows)

    def clock(self) -> float | None:
        """The notifier's clock when it last wrote (event time resumes from there after a restart)."""
        rows = self._client.execute(f"SELECT toUInt32(max(clock_at)), count() FROM {self.database}.{TABLE}")
        return float(rows[0][0]) if rows and rows[0][1] else None

    def finished(self, dossiers: set[tuple[str, str]], now: float) -> set[str]:
        """Which of these (province, dossier) have finished by ``now`` (the sink's ``transitions``)."""
        found: set[str] = set()
        by_province: dict[str, list[str]] = {}
        for province, dossier_id in dossiers:
            by_province.setdefault(province, []).append(dossier_id)
        for province, ids in by_province.items():
            for chunk in _chunks(ids):
                rows = self._client.execute(
                    f"SELECT DISTINCT dossier_id FROM {self.database}.transitions WHERE province = %(p)s "
                    "AND kind = 'finished' AND dossier_id IN %(ids)s AND at <= toDateTime(%(now)s)",
                    {"p": province, "ids": tuple(chunk), "now": int(now)})
                found.update(r[0] for r in rows)
        return found

    def seen(self) -> list[Seen]:
        """Every (kind, province, unit) of the stored alerts (``motcua notify roster check``)."""
        rows = self._client.execute(
            f"SELECT DISTINCT kind, province, unit, dossier_id != '' FROM {self.database}.alerts_unique")
        return [Seen(k, p, u, bool(d)) for k, p, u, d in rows]
