"""The notifier's integration harness: a roster file, alert records as the streams write them, a ``motcua
notify`` process on the real Kafka and ClickHouse of the local stack, and what it recorded."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from clickhouse_driver import Client

from dossier.calendar import format_instant
from notify.roster import HEADER
from producers.pseudonym import Pseudonymiser
from stack.services import free_port
from tests.notify.helpers import PROVINCE, at
from tests.notify.receivers import wait_until
from tests.sinks.pipeline import MOTCUA, produce
from wire.topics import notify_topics

KEY = "notify-tests-hmac-key-0123456789"
PSEUDONYM = Pseudonymiser(KEY.encode())


@dataclass(frozen=True)
class Official:
    official_id: str
    unit: str
    role: str
    url: str
    name: str = "Cán bộ thử nghiệm"

    @property
    def recipient(self) -> str:
        return PSEUDONYM(self.official_id)


def write_roster(path: Path, officials: list[Official]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([HEADER, *((o.official_id, o.unit, o.role, o.name, o.url) for o in officials)])
    return path


def dossier_alert(kind: str, dossier: str, when: str, unit: str, officer: str = "", due: str | None = None) -> bytes:
    """A ``dossier-alert/1`` record (docs/topics.md); ``officer`` is an official id (pseudonymised here)."""
    at_text = format_instant(at(when))
    return orjson.dumps({
        "schema": "dossier-alert/1", "alert_id": f"{kind}:{dossier}:{at_text}", "kind": kind, "at": at_text,
        "province": PROVINCE, "unit": unit, "dossier_id": dossier, "procedure_code": "1.001193",
        "officer": PSEUDONYM(officer) if officer else None, "due_at": format_instant(at(due or when) + 86400),
        "message": "...",
    })


def unit_alert(unit: str, when: str) -> bytes:
    """A ``unit_overdue_rate`` alert (the tests' clock keeper: it moves the event clock)."""
    return orjson.dumps({
        "schema": "dossier-alert/1", "alert_id": f"unit_overdue_rate:{unit}:{when}", "kind": "unit_overdue_rate",
        "at": format_instant(at(when)), "province": PROVINCE, "unit": unit, "period_start": when[:10],
        "rate": 0.3, "threshold": 0.2, "message": "...",
    })


def ref(record: bytes) -> str:
    return str(orjson.loads(record)["alert_id"])


@dataclass
class Paging:
    """One test's own topics (``<prefix>dossier.alerts`` and the notifier's) and ClickHouse database."""

    bootstrap: str
    prefix: str
    database: str
    ch: Client
    tmp_path: Path
    processes: list[NotifierProcess] = field(default_factory=list)

    @property
    def alerts_topic(self) -> str:
        return f"{self.prefix}dossier.alerts"

    @property
    def topics(self) -> list[str]:
        return [self.alerts_topic, *(t.name for t in notify_topics(self.prefix))]

    def send(self, *records: bytes) -> None:
        produce(self.bootstrap, self.alerts_topic, [(ref(r).encode(), r) for r in records])

    def notifier(self, roster: Path, *options: str, group: str = "notify-test") -> NotifierProcess:
        process = NotifierProcess(self, roster, list(options), group)
        self.processes.append(process)
        return process.start()

    def rows(self, condition: str = "1") -> list[dict[str, Any]]:
        rows, _ = self.ch.execute(
            f"SELECT alert_id, recipient, status, route, level, attempts, toUInt32(sent_at), toUInt32(release_at), "
            f"toUInt32(acked_at), escalated_to, acked_by, channel, error FROM {self.database}.notifications_latest "
            f"WHERE {condition} ORDER BY alert_id, recipient", with_column_types=True)
        names = ["alert_id", "recipient", "status", "route", "level", "attempts", "sent_at", "release_at",
                 "acked_at", "escalated_to", "acked_by", "channel", "error"]
        return [dict(zip(names, r, strict=True)) for r in rows]

    def env(self) -> dict[str, str]:
        return {**os.environ, "MOTCUA_HMAC_KEY": KEY}

    def ack(self, alert_id: str, by: str | None = None) -> subprocess.CompletedProcess[str]:
        args = [MOTCUA, "alerts", "ack", alert_id, "--topic-prefix", self.prefix, "--database", self.database]
        return subprocess.run([*args, *(["--by", by] if by else [])], env=self.env(), capture_output=True,
                              text=True, timeout=60)


class NotifierProcess:
    def __init__(self, paging: Paging, roster: Path, options: list[str], group: str) -> None:
        self.paging = paging
        self.port = free_port()
        self.log = paging.tmp_path / f"notify-{self.port}.log"
        self.args = [MOTCUA, "notify", "--roster", str(roster), "--topic-prefix", paging.prefix, "--database",
                     paging.database, "--group", f"{paging.prefix}{group}", "--port", str(self.port), *options]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> NotifierProcess:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT, env=self.paging.env(),
                                         stdin=subprocess.DEVNULL)
        wait_until(lambda: self._owns_partitions(), 60, f"the notifier on port {self.port} to own partitions")
        return self

    def _owns_partitions(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"notify exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
        try:
            return bool(self.health()["owned_partitions"])
        except OSError:
            return False

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=5) as response:
            return dict(json.load(response))

    def post(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=body, method="POST",
                                         headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(json.load(response))
        except urllib.error.HTTPError as error:
            return error.code, dict(json.load(error))

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode
