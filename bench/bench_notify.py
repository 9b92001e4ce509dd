"""The morning wave: paging throughput and latency of ``motcua notify`` on the local stack, with raw baselines.

* **Wave** (3 runs, the median reported): 20,000 ``due_soon`` alerts of one province (province 79, their
  ``at`` within one simulated minute) are on ``dossier.alerts`` when ``motcua notify --clock event`` starts with
  a roster of 5 officers and a head per unit (53 units: 265 officers, every alert's officer among them).
  Measured: admission (consume, skip what the store knows, route, record every page in ClickHouse, commit)
  in alerts/s, and the messages the local SMTP server (aiosmtpd on 127.0.0.1) accepts: digests, not 20,000
  messages. Raw baselines in the same run: an aiokafka consumer reading the same 20,000 alerts, and smtplib
  sending the same number of messages of the same size to the same server (8 threads, a connection per
  message, as Apprise does).
* **Steady**: alerts produced at a steady rate (100/s) for a while; latency from each alert's send to
  Kafka to the SMTP server's acceptance of the message carrying its ref, p50/p99/max, for two digest
  windows. Raw baseline: an aiokafka consumer that sends each alert at once with smtplib, same rate, same
  server.

Run: ``python -m bench.bench_notify`` (needs ``motcua stack up``; writes bench/results/notify-morning-wave.json
and .md). Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import email
import email.policy
import json
import os
import re
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from email.mime.text import MIMEText
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer
from aiosmtpd.controller import Controller
from clickhouse_driver import Client
from kafka import KafkaAdminClient

from bench.baseline import machine, write_result
from dossier import catalog
from dossier.calendar import format_instant
from dossier.contract import parse_timestamp
from notify.roster import HEADER
from producers.kafka import LOW_LATENCY, EventProducer
from producers.pseudonym import Pseudonymiser
from sinks.migrate import migrate
from stack.services import free_port
from wire.settings import Settings
from wire.topics import TopicSpec, ensure_topics, notify_topics

RESULTS = Path(__file__).parent / "results"
MOTCUA = str(Path(sys.executable).parent / "motcua")
KEY = "bench-notify-hmac-key-0123456789"
PROVINCE = "79"
OFFICERS_PER_UNIT = 5
WAVE_START = parse_timestamp("2025-07-08T07:00:00+07:00")
REF = re.compile(rb"^ref: (\S+)\r?$", re.MULTILINE)


class Mailbox:
    """aiosmtpd on 127.0.0.1: per accepted message, when (wall clock) and the refs it carries."""

    def __init__(self) -> None:
        self.port = free_port()
        self.lock = threading.Lock()
        self.accepted: list[tuple[float, int, list[bytes]]] = []  # (time, bytes, refs)
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook
        content = envelope.original_content
        message = email.message_from_bytes(content, policy=email.policy.default)
        part = message.get_body(preferencelist=("plain",))
        body = part.get_payload(decode=True) if part is not None else content
        with self.lock:
            self.accepted.append((time.time(), len(content), REF.findall(body)))
        return "250 OK"

    def url(self, address: str) -> str:
        return f"mailto://127.0.0.1:{self.port}?to={address}&from=notify@motcua.bench&format=text"

    def refs(self) -> int:
        with self.lock:
            return sum(len(r) for _, _, r in self.accepted)

    def reset(self) -> None:
        with self.lock:
            self.accepted.clear()

    def __enter__(self) -> Mailbox:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


def roster(path: Path, mailbox: Mailbox) -> list[str]:
    """The province's roster; the official ids of its officers."""
    rows, officers = [list(HEADER)], []
    rows.append(["vp-79", PROVINCE, "province_office", "Văn phòng", mailbox.url("vp-79@motcua.bench")])
    for u, unit in enumerate(catalog.units(PROVINCE, communes=40)):
        for k in range(OFFICERS_PER_UNIT):
            official = f"cb-{u:02d}-{k}"
            officers.append(official)
            rows.append([official, unit.code, "officer", f"Cán bộ {official}", mailbox.url(f"{official}@motcua.bench")])
        rows.append([f"ld-{u:02d}", unit.code, "unit_head", "Lãnh đạo", mailbox.url(f"ld-{u:02d}@motcua.bench")])
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows(rows)
    return officers


def alert(i: int, at: float, official: str, pseudonym: Pseudonymiser) -> tuple[bytes, bytes]:
    units = catalog.units(PROVINCE, communes=40)
    unit = units[int(official.split("-")[1])].code
    at_text = format_instant(at)
    alert_id = f"due_soon:{unit}-250708-{i:05d}:{at_text}"
    value = orjson.dumps({
        "schema": "dossier-alert/1", "alert_id": alert_id, "kind": "due_soon", "at": at_text, "province": PROVINCE,
        "unit": unit, "dossier_id": f"{unit}-250708-{i:05d}", "procedure_code": "1.001193",
        "officer": pseudonym(official), "due_at": format_instant(at + 86400), "message": "..."})
    return alert_id.encode(), value


class Run:
    """One phase's topics and database, and a notifier process on them."""

    def __init__(self, name: str, work: Path) -> None:
        self.prefix = f"bench-notify-{name}-{uuid.uuid4().hex[:6]}."
        self.database = f"bench_notify_{name}_{uuid.uuid4().hex[:6]}"
        self.bootstrap = Settings().bootstrap_servers()
        self.work = work
        self.topic = f"{self.prefix}dossier.alerts"
        ensure_topics(self.bootstrap, 1, (TopicSpec(self.topic, 3),))
        self.ch = Client(**Settings().clickhouse_settings())
        migrate(self.ch, self.database)
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = free_port()

    def start(self, roster_file: Path, *options: str) -> None:
        log = (self.work / f"{self.prefix}log").open("ab")
        self.proc = subprocess.Popen(
            [MOTCUA, "notify", "--roster", str(roster_file), "--clock", "event", "--topic-prefix", self.prefix,
             "--database", self.database, "--port", str(self.port), "--group", f"{self.prefix}notify",
             "--escalate", "due_soon=never", *options],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "MOTCUA_HMAC_KEY": KEY})
        while not self.health().get("owned_partitions"):
            if self.proc.poll() is not None:
                raise SystemExit(f"notify exited {self.proc.returncode}: see {log.name}")
            time.sleep(0.05)

    def health(self) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=5) as response:
                return dict(json.load(response))
        except OSError:
            return {}

    def recorded(self) -> int:
        return int(self.ch.execute(f"SELECT count() FROM {self.database}.notifications")[0][0])

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)
        self.ch.execute(f"DROP DATABASE IF EXISTS {self.database}")
        self.ch.disconnect()
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:
            names = [self.topic, *(t.name for t in notify_topics(self.prefix))]
            admin.delete_topics([t for t in names if t in set(admin.list_topics())])
        finally:
            admin.close()


@contextmanager
def phase(name: str, work: Path) -> Iterator[Run]:
    run = Run(name, work)
    try:
        yield run
    finally:
        run.close()


def _wait(condition: Any, timeout: float, what: str) -> float:
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)
    return time.perf_counter() - started


async def raw_consume(bootstrap: str, topic: str, count: int) -> float:
    """Seconds for a plain aiokafka consumer to read ``count`` records of ``topic`` from the start."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"raw-{uuid.uuid4().hex[:6]}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        started, seen = time.perf_counter(), 0
        while seen < count:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            seen += sum(len(m) for m in batches.values())
        return time.perf_counter() - started
    finally:
        await consumer.stop()


def smtp_send(port: int, to: str, body: str) -> None:
    message = MIMEText(body, "plain", "utf-8")
    message["Subject"], message["From"], message["To"] = "[motcua] bench", "notify@motcua.bench", to
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.sendmail("notify@motcua.bench", [to], message.as_string())


def raw_smtp(port: int, messages: int, body: str, threads: int = 8) -> float:
    """Seconds for smtplib to have ``messages`` messages like ``body`` accepted (a connection each)."""
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda i: smtp_send(port, f"raw-{i}@motcua.bench", body), range(messages)))
    return time.perf_counter() - started


def _quantiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50_s": round(pick(0.5), 3), "p99_s": round(pick(0.99), 3), "max_s": round(ordered[-1], 3),
            "mean_s": round(statistics.fmean(ordered), 3)}


def wave(work: Path, mailbox: Mailbox, count: int) -> dict[str, Any]:
    pseudonym = Pseudonymiser(KEY.encode())
    roster_file = work / "roster.csv"
    officers = roster(roster_file, mailbox)
    mailbox.reset()
    with phase("wave", work) as run:
        with EventProducer(run.topic, bootstrap=run.bootstrap, linger_ms=5) as producer:
            for i in range(count):
                producer.send(*alert(i, WAVE_START + 60 * i / count, officers[i % len(officers)], pseudonym))
        run.start(roster_file)
        admit_s = _wait(lambda: run.health().get("admitted", 0) >= count, 300, "admission")
        record_s = _wait(lambda: run.recorded() >= count, 300, "the pages recorded") + admit_s
        deliver_s = _wait(lambda: mailbox.refs() >= count, 600, "every page delivered") + record_s
        time.sleep(2)
        with mailbox.lock:
            accepted = list(mailbox.accepted)
        health = run.health()
        raw_consume_s = asyncio.run(raw_consume(run.bootstrap, run.topic, count))
    sizes = [n for _, n, _ in accepted]
    times = sorted(t for t, _, _ in accepted)
    typical = "Kính gửi ...\n" + "- Hồ sơ 000.01.00.H79-250708-00001: Đăng ký khai sinh ...\n" * (
        count // max(1, len(accepted))) + "ref: due_soon:...\n" * (count // max(1, len(accepted)))
    mailbox.reset()
    raw_smtp_s = raw_smtp(mailbox.port, len(accepted), typical)
    refs = sum(len(r) for _, _, r in accepted)
    send_span = times[-1] - times[0] if len(times) > 1 else 0.0
    return {
        "alerts": count, "officers": len(officers), "messages": len(accepted), "refs_delivered": refs,
        "distinct_refs": len({ref for _, _, r in accepted for ref in r}), "message_kib_median": round(
            statistics.median(sizes) / 1024, 1),
        "admit_s": round(admit_s, 3), "admitted_per_s": round(count / admit_s),
        "recorded_s": round(record_s, 3), "recorded_per_s": round(count / record_s),
        "delivered_s": round(deliver_s, 3), "send_span_s": round(send_span, 3),
        "messages_per_s": round(len(accepted) / send_span, 1) if send_span else None,
        "raw_consume_s": round(raw_consume_s, 3), "raw_consume_per_s": round(count / raw_consume_s),
        "raw_smtp_s": round(raw_smtp_s, 3), "raw_smtp_messages_per_s": round(len(accepted) / raw_smtp_s, 1),
        "health": health,
    }


def steady(work: Path, mailbox: Mailbox, rate: float, seconds: float, window: float) -> dict[str, Any]:
    """Alerts at ``rate``/s for ``seconds``; latency from send to SMTP acceptance of its ref."""
    pseudonym = Pseudonymiser(KEY.encode())
    roster_file = work / "roster.csv"
    officers = roster(roster_file, mailbox)
    mailbox.reset()
    with phase(f"steady{int(window)}", work) as run:
        run.start(roster_file, "--digest-window", str(window))
        sent = _paced(run, rate, seconds, officers, pseudonym)
        _wait(lambda: mailbox.refs() >= len(sent), 120, "every steady page")
        with mailbox.lock:
            accepted = {ref.decode(): at for at, _, refs in mailbox.accepted for ref in refs}
        latencies = [accepted[ref] - at for ref, at in sent.items()]
        messages = len(mailbox.accepted)
    return {"digest_window_s": window, "rate": rate, "seconds": seconds, "alerts": len(sent), "messages": messages,
            **_quantiles(latencies)}


def _paced(run: Run, rate: float, seconds: float, officers: list[str], pseudonym: Pseudonymiser) -> dict[str, float]:
    """Produce alerts at a steady rate (event time advancing with them); their ids and wall send times."""
    sent: dict[str, float] = {}
    total = int(rate * seconds)
    with EventProducer(run.topic, bootstrap=run.bootstrap, **LOW_LATENCY) as producer:
        started = time.perf_counter()
        for i in range(total):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            key, value = alert(100_000 + i, WAVE_START + 3600 + i / rate, officers[(i * 7) % len(officers)],
                               pseudonym)
            sent[key.decode()] = time.time()
            producer.send(key, value)
    return sent


def raw_steady(work: Path, mailbox: Mailbox, rate: float, seconds: float) -> dict[str, Any]:
    """The raw path at the same rate: aiokafka consumer -> smtplib (8 threads) -> the same SMTP server."""
    pseudonym = Pseudonymiser(KEY.encode())
    officers = roster(work / "roster.csv", mailbox)
    mailbox.reset()
    with phase("raw", work) as run:
        stop = threading.Event()
        relay = threading.Thread(target=lambda: asyncio.run(_relay(run, mailbox.port, stop)), daemon=True)
        relay.start()
        time.sleep(3)  # the consumer joins its group
        sent = _paced(run, rate, seconds, officers, pseudonym)
        _wait(lambda: mailbox.refs() >= len(sent), 120, "every raw page")
        stop.set()
        relay.join(30)
        with mailbox.lock:
            accepted = {ref.decode(): at for at, _, refs in mailbox.accepted for ref in refs}
    return {"rate": rate, "seconds": seconds, "alerts": len(sent),
            **_quantiles([accepted[ref] - at for ref, at in sent.items()])}


async def _relay(run: Run, port: int, stop: threading.Event) -> None:
    consumer = AIOKafkaConsumer(run.topic, bootstrap_servers=run.bootstrap, group_id=f"{run.prefix}raw",
                                auto_offset_reset="earliest")
    await consumer.start()
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(8)
    try:
        while not stop.is_set():
            for messages in (await consumer.getmany(timeout_ms=100)).values():
                for m in messages:
                    alert_id = orjson.loads(m.value)["alert_id"]
                    loop.run_in_executor(pool, smtp_send, port, "raw@motcua.bench", f"raw\nref: {alert_id}\n")
    finally:
        pool.shutdown(wait=True)
        await consumer.stop()


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def markdown(r: dict[str, Any]) -> str:
    raw, m = r["raw_steady"], r["machine"]
    waves = sorted(r["waves"], key=lambda x: x["recorded_per_s"])
    w = waves[len(waves) // 2]  # the median run
    wave_rows = [
        ("alerts admitted: consumed, deduplicated, routed (pages created)",
         f"**{w['admitted_per_s']:,} alerts/s** ({w['admit_s']} s)",
         f"aiokafka consumer: {w['raw_consume_per_s']:,} records/s ({w['raw_consume_s']} s)",
         f"{w['admitted_per_s'] / w['raw_consume_per_s']:.2f}"),
        ("... and their pages recorded in ClickHouse (then offsets committed)",
         f"**{w['recorded_per_s']:,} alerts/s** ({w['recorded_s']} s from start)", "", ""),
        ("messages accepted by SMTP", f"**{w['messages']:,} messages** for {w['refs_delivered']:,} refs "
         f"({w['distinct_refs']:,} distinct), median {w['message_kib_median']} KiB", "", ""),
        ("sending the digests", f"{w['messages_per_s']} messages/s over {w['send_span_s']} s",
         f"smtplib, 8 threads, same sizes: {w['raw_smtp_messages_per_s']} messages/s",
         f"{(w['messages_per_s'] or 0) / w['raw_smtp_messages_per_s']:.2f}"),
        ("every page delivered", f"{w['delivered_s']} s after start (the default 60 s digest window included)",
         "", ""),
    ]
    steady_rows = [(f"notify, digest window {s['digest_window_s']:g} s", f"{s['alerts']:,}", f"{s['messages']:,}",
                    s["p50_s"], f"**{s['p99_s']}**", s["max_s"]) for s in r["steady"]]
    steady_rows.append(("raw: aiokafka consumer -> smtplib, a message per alert", f"{raw['alerts']:,}",
                        f"{raw['alerts']:,}", raw["p50_s"], raw["p99_s"], raw["max_s"]))
    return f"""# Paging: the morning wave

`python -m bench.bench_notify`: `motcua notify --clock event` (one process) on the local Kafka and ClickHouse
18.16, an aiosmtpd SMTP server on 127.0.0.1 counting what it accepts. Roster: province 79, {w['officers']}
officers (5 per unit, 53 units) and the units' heads, every alert's officer on it. Machine: {m['nproc']} cores
shared by the notifier, the SMTP server, this client, Kafka and ClickHouse (and other sessions); load average
{', '.join(map(str, m['load_average']))} at the start, {', '.join(map(str, m['load_average_end']))} at the end.

## The wave: {w['alerts']:,} due_soon alerts of one province within one simulated minute

The median of {len(waves)} runs (by alerts recorded per second):

{_table(("measure", "notify", "raw baseline (same run)", "ratio"), wave_rows)}

Every run (alerts/s admitted, recorded; raw consumer records/s; messages; refs delivered):
{", ".join(f"{x['admitted_per_s']:,} / {x['recorded_per_s']:,} / {x['raw_consume_per_s']:,} / {x['messages']} / "
           f"{x['refs_delivered']:,}" for x in r["waves"])}.

Targets: routing >= 5,000 alerts/s; digests, not {w['alerts']:,} messages (the default 60 s window, at most 100
alerts a message: about one message per officer).

## Steady {raw['rate']:g} alerts/s for {raw['seconds']:g} s: alert sent to Kafka -> page accepted by SMTP

{_table(("path", "alerts", "messages", "p50 s", "p99 s", "max s"), steady_rows)}

Target: p99 <= 5 s. The digest window is a wait by design (a recipient's first page waits for the others): with
the default 60 s window every page waits up to 60 s, so the latency target is measured with short windows; the
rest of the path (consume, deduplicate against ClickHouse, record, the scheduler's 0.2 s turn, Apprise's SMTP
session) is what the raw path does not do.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3, help="Runs of the wave (the median is reported).")
    parser.add_argument("--out", type=Path, default=RESULTS / "notify-morning-wave.json")
    args = parser.parse_args()
    result: dict[str, Any] = {"machine": machine()}
    with tempfile.TemporaryDirectory(prefix="bench-notify-") as tmp, Mailbox() as mailbox:
        work = Path(tmp)
        result["waves"] = [wave(work, mailbox, args.alerts) for _ in range(args.repeats)]
        print(json.dumps(result["waves"], indent=1), flush=True)
        result["steady"] = [steady(work, mailbox, args.rate, args.seconds, w) for w in (0.0, 2.0)]
        print(json.dumps(result["steady"], indent=1), flush=True)
        result["raw_steady"] = raw_steady(work, mailbox, args.rate, args.seconds)
    result["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    write_result(args.out, result, markdown)


if __name__ == "__main__":
    main()
