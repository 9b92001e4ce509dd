"""``motcua notify``: the thin shell around ``notify.core.Pager``.

* Consumes ``dossier.alerts`` and the inbox (acknowledgements, Grafana's alerts) in one consumer group with
  the range assignor, so that partition p of both topics (same key, same partition count) has one owner.
* Per batch: decode (invalid records to ``dossier.notify-dlq``), skip alerts the store already knows (a
  replay, a redelivery), admit, acknowledge, resolve; record every changed page in ClickHouse; only then
  commit the offsets.
* A scheduler turn (every ``tick`` seconds): resolve the alerts of dossiers that finished (the sink's
  ``transitions``), escalate what is due, record, then send the digests that are due, each in a worker
  thread through Apprise; an outcome is recorded as soon as it is known (sent, or retry later, or failed
  over to the next level and the DLQ).
* HTTP: ``POST /grafana`` (Grafana's webhook: to the inbox, 202 once Kafka has it), ``GET|POST /ack``
  (the signed links: GET shows a confirmation form, POST acknowledges, so that a mail scanner following
  links acknowledges nothing), ``GET /health``.

A page is never sent before its first row is in ClickHouse (``Page.recorded``), so a restart finds every page
that was admitted. Consuming a batch, a scheduler turn and a rebalance take turns under one lock; the outcomes
of sends are recorded as they come (sharing INSERTs). The one window left is between a channel accepting a
message and its ``sent`` row reaching ClickHouse (milliseconds): a crash there sends that message again after
the restart (README, "Paging").
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, TypeVar

import orjson
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from dossier.calendar import format_instant
from dossier.contract import InvalidRecord
from notify import delivery, inbox, links
from notify.core import Message, Pager
from notify.messages import render
from notify.model import Alert, Page
from notify.policy import Policy
from notify.roster import Roster
from notify.store import Store, Versions, page_row
from wire.dlq import dlq_headers, reason_text
from wire.runtime import aiokafka_consumer, aiokafka_producer
from wire.settings import Settings
from wire.topics import Topics, TopicSpec, ensure_topics, notify_topics

log = logging.getLogger("motcua.notify")
T = TypeVar("T")
SOURCE = "notify"
SHUTDOWN_GRACE = 20.0  # seconds a stopping notifier waits for messages on their way


@dataclass(frozen=True)
class NotifyConfig:
    policy: Policy = field(default_factory=Policy)
    clock: Literal["wall", "event"] = "wall"
    bootstrap: str = ""
    clickhouse: dict[str, Any] | None = None
    database: str = "default"
    group_id: str = "motcua-notify"
    topic_prefix: str = ""
    host: str = "127.0.0.1"
    port: int = 18095
    public_url: str = ""  # base of the acknowledgement links (default http://host:port)
    webhook_token: str = ""  # Grafana's webhook must send ``Authorization: Bearer <token>`` when set
    senders: int = 8  # messages on their way at once
    tick: float = 0.2  # seconds between scheduler turns

    @property
    def alerts_topic(self) -> str:
        return Topics.with_prefix(self.topic_prefix).alerts

    @property
    def own_topics(self) -> tuple[TopicSpec, ...]:
        return notify_topics(self.topic_prefix)

    @property
    def inbox_topic(self) -> str:
        return self.own_topics[0].name

    @property
    def dlq_topic(self) -> str:
        return self.own_topics[1].name

    @property
    def link_base(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"


class Clock:
    """The notifier's clock: the wall clock, or the event time of the alerts read so far (never backwards)."""

    def __init__(self, mode: str, start: float | None = None) -> None:
        self.mode = mode
        self._event = start or 0.0

    def now(self) -> float:
        return time.time() if self.mode == "wall" else self._event

    def advance(self, at: float) -> None:
        self._event = max(self._event, at)


async def persist(what: str, call: Callable[[], Awaitable[T]]) -> T:
    """``call()`` until it succeeds (ClickHouse down or restarting), with backoff: a state is never dropped."""
    attempt = 0
    while True:
        try:
            return await call()
        except Exception as error:
            attempt += 1
            log.warning("%s failed (attempt %d): %s", what, attempt,
                        str(error).splitlines()[0] if str(error) else type(error).__name__)
            await asyncio.sleep(min(5.0, 0.2 * 2 ** attempt))


class Recorder:
    """Rows to ClickHouse by group commit: every caller waits for the INSERT that holds its rows.

    Its own connection and thread, so that INSERTs never queue behind the notifier's reads. ClickHouse down:
    the INSERT is retried with backoff until it succeeds (nothing is committed meanwhile).
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="notify-recorder")
        self._pending: list[tuple[Any, ...]] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._flushing: asyncio.Task[None] | None = None
        self.versions = Versions()

    async def record(self, pages: Sequence[Page], clock: float) -> None:
        if not pages:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending += [page_row(p, clock, self.versions()) for p in pages]
        self._waiters.append(future)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())
        await future
        for page in pages:
            page.recorded = True

    async def _flush(self) -> None:
        while self._pending:
            rows, waiters = self._pending, self._waiters
            self._pending, self._waiters = [], []
            write = partial(asyncio.get_running_loop().run_in_executor, self._thread, self._store.write, rows)
            await persist(f"recording {len(rows)} notification rows", write)
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self._store.close()


class Notifier:
    def __init__(self, config: NotifyConfig, roster: Roster, link_key: bytes) -> None:
        self.config = config
        self.roster = roster
        self.link_key = link_key
        self.pager = Pager(roster, config.policy)
        connection = config.clickhouse or Settings().clickhouse_settings()
        self.store = Store(connection, config.database)  # reads, in the store thread
        self._store_thread = ThreadPoolExecutor(1, thread_name_prefix="notify-store")
        self._send_threads = ThreadPoolExecutor(config.senders, thread_name_prefix="notify-send")
        self.recorder = Recorder(Store(connection, config.database))
        self.clock = Clock(config.clock)
        self._lock = asyncio.Lock()
        self._sending: set[asyncio.Task[None]] = set()
        self._paused = False
        self.owned: set[int] = set()
        self._consumer: AIOKafkaConsumer
        self._producer: AIOKafkaProducer

    async def _in_store(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._store_thread, fn, *args)

    # ------------------------------------------------------------------------------------------- running

    async def run(self, stop: asyncio.Event) -> None:
        cfg = self.config
        bootstrap = cfg.bootstrap or Settings().bootstrap_servers()
        await asyncio.get_running_loop().run_in_executor(None, ensure_topics, bootstrap, 1, cfg.own_topics)
        if cfg.clock == "event":
            self.clock = Clock("event", await self._in_store(self.store.clock))
        self._consumer = aiokafka_consumer(
            bootstrap=bootstrap, group_id=cfg.group_id, client_id=f"{cfg.group_id}-consumer",
            enable_auto_commit=False, auto_offset_reset="earliest", isolation_level="read_committed",
            partition_assignment_strategy=(RangePartitionAssignor,),
        )
        self._consumer.subscribe([cfg.alerts_topic, cfg.inbox_topic], listener=_Rebalance(self))
        self._producer = aiokafka_producer(bootstrap, client_id=f"{cfg.group_id}-producer", acks="all",
                                           enable_idempotence=True)
        runner = web.AppRunner(self._http_app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, cfg.host, cfg.port).start()
        await self._producer.start()
        await self._consumer.start()
        log.info("notify: %d contacts, clock %s, listening on %s:%d", len(self.roster.contacts), cfg.clock,
                 cfg.host, cfg.port)
        tasks = [asyncio.create_task(self._consume(stop)), asyncio.create_task(self._schedule(stop))]
        stopping = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait([stopping, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done - {stopping}:
                task.result()  # a loop that ended by itself failed: raise it (exit 1), never limp on without it
        finally:
            stopping.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._wait_sending(SHUTDOWN_GRACE)
            await self._consumer.stop()
            await self._producer.stop()
            await runner.cleanup()
            self._send_threads.shutdown(wait=False, cancel_futures=True)
            self._store_thread.shutdown(wait=True)
            self.store.close()
            self.recorder.close()

    async def _consume(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batch = await self._consumer.getmany(timeout_ms=200, max_records=5000)
            if not batch:
                continue
            async with self._lock:
                await self._process(batch)
                offsets = {tp: OffsetAndMetadata(msgs[-1].offset + 1, "") for tp, msgs in batch.items()}
                try:
                    await self._consumer.commit(offsets)
                except KafkaError as error:  # a rebalance in between: the next owner reads again, harmlessly
                    log.warning("offset commit failed, records will be read again: %s", error)

    async def _process(self, batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        alerts: list[tuple[Alert, int]] = []
        firing: list[tuple[Alert, int]] = []
        closing: list[tuple[str, str, str]] = []  # (alert id, status, by)
        refused: list[tuple[ConsumerRecord[bytes, bytes], str]] = []
        for tp, messages in batch.items():
            for m in messages:
                try:
                    if tp.topic == self.config.alerts_topic:
                        alerts.append((inbox.from_dossier_alert(m.value), tp.partition))
                        continue
                    record = inbox.decode_inbox(m.value)
                except InvalidRecord as error:
                    refused.append((m, reason_text(error.violations)))
                    continue
                if isinstance(record, inbox.AckRecord):
                    closing.append((record.alert_id, "acked", record.by or record.via or "?"))
                elif record.status == "firing":
                    firing.append((inbox.from_grafana(record), tp.partition))
                else:
                    closing.append((record.alert_id, "resolved", "grafana"))
        new = {a.alert_id for a, _ in alerts + firing if a.alert_id not in self.pager.open}
        known = await self._in_store(self.store.known, new) if new else set()
        changed: list[Page] = []
        unroutable: list[Page] = []
        for i, (alert, owner) in enumerate(alerts + firing):
            if i < len(alerts):  # the event clock follows the streams' alerts (Grafana's are on the wall clock)
                self.clock.advance(alert.at)
            if alert.alert_id in known:
                self.pager.counts["duplicates"] += 1
                continue
            known.add(alert.alert_id)
            pages = self.pager.admit(alert, owner, self.clock.now())
            changed += pages
            unroutable += [p for p in pages if p.status == "unroutable"]
        for alert_id, status, by in closing:
            changed += await self._close(alert_id, status, by)
        await self.recorder.record(changed, self.clock.now())
        await self._to_dlq([(m.key, m.value, dlq_headers(reason, stage="validate", source=SOURCE, topic=m.topic,
                                                         partition=m.partition, offset=m.offset))
                            for m, reason in refused]
                           + [self._page_dlq(p, "route") for p in unroutable])

    async def _close(self, alert_id: str, status: str, by: str) -> list[Page]:
        """Acknowledge or resolve an alert, open here or settled (then its stored pages get the mark)."""
        now = self.clock.now()
        if alert_id in self.pager.open:
            return self.pager.ack(alert_id, by, now) if status == "acked" else self.pager.resolve(alert_id, now)
        stored = await self._in_store(self.store.pages_of, [alert_id], self.roster)
        if not stored:
            self.pager.counts[f"{status}_unknown"] += 1
            log.warning("%s for an alert with no page: %s", status, alert_id)
        return self.pager.close_stored(stored, status, by, now)

    async def _schedule(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(self.config.tick)
            if self._paused:
                continue
            async with self._lock:
                now, wall = self.clock.now(), time.monotonic()
                changed: list[Page] = []
                candidates = self.pager.candidates(now, wall)
                if candidates:
                    try:
                        finished = await self._in_store(self.store.finished, candidates, now)
                    except Exception as error:  # transitions not there yet, ClickHouse restarting: try next turn
                        log.warning("cannot tell which dossiers finished: %s", str(error).splitlines()[0])
                        continue
                    changed += self.pager.resolve_dossiers(finished, now)
                changed += self.pager.escalate(now)
                await self.recorder.record(changed, now)
                for message in self.pager.messages(now, wall):
                    task = asyncio.create_task(self._deliver(message))
                    self._sending.add(task)
                    task.add_done_callback(self._sending.discard)

    async def _deliver(self, message: Message) -> None:
        contact = message.contact
        link = links.ack_link(self.config.link_base, self.link_key, message.id, contact.recipient)
        title, body = render(contact, message.pages, link)
        loop = asyncio.get_running_loop()
        error = await loop.run_in_executor(self._send_threads, delivery.send, contact.url, title, body)
        now = self.clock.now()
        if not error:
            changed, dead = self.pager.delivered(message, now), []
        else:
            log.warning("message %s (%d pages, %s) not delivered: %s", message.id, len(message.pages),
                        contact.channel, error)
            changed, dead = self.pager.failed(message, error, now, time.monotonic())
        await self.recorder.record(changed, now)  # outcomes of concurrent sends share one INSERT
        await self._to_dlq([self._page_dlq(p, "deliver") for p in dead])

    async def _wait_sending(self, timeout: float) -> None:
        if self._sending:
            await asyncio.wait(list(self._sending), timeout=timeout)

    # ------------------------------------------------------------------------------------------ the DLQ

    def _page_dlq(self, page: Page, stage: str) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
        """A page that reached no one, as a DLQ record: the alert and the pseudonym, never an address."""
        a = page.alert
        value = orjson.dumps({
            "schema": "notify-page/1", "alert_id": a.alert_id, "kind": a.kind, "at": format_instant(a.at),
            "province": a.province, "unit": a.unit, "dossier_id": a.dossier_id, "recipient": page.recipient,
            "role": page.contact.role if page.contact else "", "channel": page.contact.channel if page.contact else "",
            "route": page.route, "level": page.level, "attempts": page.attempts,
        })
        return a.alert_id.encode(), value, dlq_headers(page.error, stage=stage, source=SOURCE)

    async def _to_dlq(self, records: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]]) -> None:
        sent = [await self._producer.send(self.config.dlq_topic, value=value, key=key, headers=headers)
                for key, value, headers in records]
        await asyncio.gather(*sent)

    # ---------------------------------------------------------------------------------------- rebalance

    async def on_revoked(self, partitions: set[int]) -> None:
        """Before partitions move: let the messages on their way finish and be recorded, then forget them."""
        self._paused = True
        await self._wait_sending(SHUTDOWN_GRACE)
        async with self._lock:
            dropped = self.pager.drop(partitions)
            self.owned -= partitions
        log.info("partitions %s revoked: %d open alerts handed over", sorted(partitions), dropped)

    async def on_assigned(self, partitions: set[int]) -> None:
        """Read back the open pages of the partitions now owned (after a restart, or from another notifier)."""
        async with self._lock:
            pages = await self._read_back(partitions) if partitions else []
            self.pager.restore(pages)
            self.owned |= partitions
            self._paused = False
        log.info("partitions %s assigned: %d pages of open alerts read back", sorted(partitions), len(pages))

    async def _read_back(self, partitions: set[int]) -> list[Page]:
        """The open pages of the partitions (owning them without would be unsafe: retried until it works)."""
        return await persist("reading back the open pages",
                             partial(self._in_store, self.store.open_pages, partitions,
                                     tuple(self.config.policy.escalate_after), self.roster))

    # --------------------------------------------------------------------------------------------- HTTP

    def _http_app(self) -> web.Application:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post("/grafana", self._grafana)
        app.router.add_get("/ack", self._ack_form)
        app.router.add_post("/ack", self._ack)
        app.router.add_get("/health", self._health)
        return app

    async def _produce_inbox(self, records: Sequence[inbox.InboxRecord]) -> None:
        sent = [await self._producer.send(self.config.inbox_topic, value=inbox.encode(r), key=r.alert_id.encode())
                for r in records]
        await asyncio.gather(*sent)

    async def _grafana(self, request: web.Request) -> web.Response:
        token = self.config.webhook_token
        if token and request.headers.get("Authorization", "") != f"Bearer {token}":
            return web.json_response({"errors": [{"field": "Authorization", "reason": "missing or wrong token"}]},
                                     status=401)
        body = await request.read()
        try:
            records = inbox.grafana_records(body)
        except InvalidRecord as error:
            await self._to_dlq([(None, body, dlq_headers(reason_text(error.violations), stage="validate",
                                                         source=SOURCE))])
            return web.json_response(inbox.problems_json(error), status=400)
        await self._produce_inbox(records)
        return web.json_response({"accepted": len(records)}, status=202)

    def _signed(self, query: Any) -> tuple[str, str] | None:
        message_id, recipient, sig = query.get("m", ""), query.get("r", ""), query.get("s", "")
        if not message_id or not links.verify(self.link_key, message_id, recipient, sig):
            return None
        return message_id, recipient

    async def _ack_form(self, request: web.Request) -> web.Response:
        if self._signed(request.query) is None:
            return _page("Liên kết không hợp lệ", "Liên kết xác nhận không đúng hoặc đã bị sửa.", 403)
        fields = "".join(f'<input type="hidden" name="{k}" value="{html.escape(v)}">'
                         for k, v in request.query.items() if k in ("m", "r", "s"))
        return _page("Xác nhận đã nhận cảnh báo",
                     f'<form method="post">{fields}<button type="submit">Xác nhận đã nhận</button></form>')

    async def _ack(self, request: web.Request) -> web.Response:
        signed = self._signed(await request.post())
        if signed is None:
            return _page("Liên kết không hợp lệ", "Liên kết xác nhận không đúng hoặc đã bị sửa.", 403)
        message_id, recipient = signed
        stored = await self._in_store(self.store.alerts_of_message, message_id)
        alert_ids = sorted(self.pager.alerts_of_message(message_id).union(stored))
        if not alert_ids:
            return _page("Không tìm thấy", "Không có cảnh báo nào ứng với liên kết này.", 404)
        at = format_instant(round(time.time()))
        await self._produce_inbox([inbox.AckRecord(a, by=recipient, via="link", at=at) for a in alert_ids])
        return _page("Đã xác nhận", f"Đã xác nhận {len(alert_ids)} cảnh báo; việc chuyển cấp đã dừng.")

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({
            **dict(self.pager.counts), "open_alerts": len(self.pager.open), "open_pages": self.pager.open_pages(),
            "sending": len(self._sending), "clock": format_instant(self.clock.now()) if self.clock.now() else None,
            "owned_partitions": sorted(self.owned),
        })


def _page(title: str, body: str, status: int = 200) -> web.Response:
    text = (f'<!doctype html><html lang="vi"><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<h1>{html.escape(title)}</h1><p>{body}</p></html>")
    return web.Response(text=text, content_type="text/html", status=status)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.notifier.on_revoked({tp.partition for tp in revoked})

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.notifier.on_assigned({tp.partition for tp in assigned})


async def run_notifier(config: NotifyConfig, roster: Roster, link_key: bytes,
                       stop: asyncio.Event | None = None) -> None:
    """Run until ``stop`` is set (or SIGINT/SIGTERM when no event is given)."""
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signum, stop.set)
    await Notifier(config, roster, link_key).run(stop)
