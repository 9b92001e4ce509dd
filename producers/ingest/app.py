"""The aiohttp application: authentication, limits, and replying only after Kafka acknowledged.

* 202 once every record of the request is acknowledged by Kafka (acks=all); the body says how many.
* 400 unreadable body, 403 a record the token may not write (another province's dossier or unit),
  422 contract or sync-format problems (the first `max_problems` listed, `more_problems` counts the
  rest), 401 bad token, 413 body over the size limit, 415 a Content-Type other than JSON / NDJSON,
  429 + Retry-After when the source is over its rate or too many records await Kafka, 503 +
  Retry-After when Kafka did not acknowledge (the client retries; duplicates are harmless because
  event ids are idempotency keys downstream).
* Refused records (403, 422) also go to dossier.dlq, scrubbed (producers.edge), best-effort: the client's
  answer never waits for them.
* Validation runs in worker processes, never on the event loop, so /healthz answers during a large batch.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from producers.edge import Bounds, Refused
from producers.ingest.openapi import openapi_document
from producers.ingest.ratelimit import RateLimit
from producers.ingest.records import BadRequest, Context, Preparer, contract_records, sync_records
from producers.kafka import DeliveryError, EventProducer
from producers.orphans import exit_with_parent
from producers.pseudonym import Pseudonymiser
from producers.sources import Source, TokenRegistry

log = logging.getLogger("motcua.ingest")


@dataclass(frozen=True, slots=True)
class Limits:
    max_body_bytes: int = 8 * 1024 * 1024
    max_events_per_request: int = 10_000
    max_pending_events: int = 50_000  # records awaiting Kafka across all requests; beyond: 429
    ack_timeout_s: float = 20.0
    kafka_down_s: float = 2.0  # after a failed delivery, answer 503 at once for this long
    retry_after_s: int = 1
    max_problems: int = 100  # problems listed in a 4xx reply; `more_problems` counts the rest
    source_rate: float = 20_000.0  # records a second per source (token bucket); beyond: 429
    source_burst: float = 100_000.0
    validators: int = 2  # processes validating request bodies
    bounds: Bounds = field(default_factory=Bounds)


CONTENT_TYPES = frozenset({"application/json", "application/x-ndjson"})
MESSAGES = {400: "bad request", 403: "forbidden for this token", 422: "invalid records"}


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json", headers=headers)


def _problems(error: BadRequest, limit: int) -> web.Response:
    listed = [p.as_json() for p in error.problems[:limit]]
    more = len(error.problems) - len(listed)
    return _json(error.status, {"error": MESSAGES[error.status], "problems": listed, "more_problems": more})


def _ready() -> bool:
    return True


class Ingest:
    """Request handling state: the producer (None until Kafka first answers), who may send, what is in flight."""

    def __init__(self, tokens: TokenRegistry, pseudonym: Pseudonymiser, limits: Limits, dlq_topic: str) -> None:
        self.tokens, self.pseudonym, self.limits = tokens, pseudonym, limits
        self.producer: EventProducer | None = None
        self.pending = 0
        self.kafka_failed_at = float("-inf")
        self.dlq_topic = dlq_topic
        self.rate = RateLimit(limits.source_rate, limits.source_burst)
        # One thread sends, in arrival order: `send` can block on metadata or a full buffer.
        self.sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kafka-send")
        # Validation runs in worker processes: a large invalid batch holds their GIL, not the event loop's.
        self.validator = ProcessPoolExecutor(limits.validators, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=exit_with_parent, initargs=(os.getpid(),))

    def _retry_later(self, status: int, message: str, seconds: int | None = None) -> web.Response:
        headers = {"Retry-After": str(seconds or self.limits.retry_after_s)}
        return _json(status, {"error": message}, headers)

    async def handle(self, request: web.Request, prepare: Preparer) -> web.Response:
        header = request.headers.get("Authorization", "")
        source = self.tokens.authenticate(header[7:].strip()) if header[:7].lower() == "bearer " else None
        if source is None:
            return _json(401, {"error": "missing or unknown bearer token"}, {"WWW-Authenticate": "Bearer"})
        if self.producer is None or time.monotonic() - self.kafka_failed_at < self.limits.kafka_down_s:
            return self._retry_later(503, "Kafka is unreachable; nothing was accepted")
        if request.content_type not in CONTENT_TYPES:
            return _json(415, {"error": f"Content-Type must be one of {', '.join(sorted(CONTENT_TYPES))}"})
        if self.pending >= self.limits.max_pending_events:
            return self._retry_later(429, "too many records awaiting Kafka; retry later")
        wait = self.rate.retry_after(source.id, time.monotonic())
        if wait is not None:
            return self._retry_later(429, f"source {source.id!r} is over its rate of records; retry later", wait)
        body = await request.read()  # aiohttp answers 413 past client_max_size
        ctx = Context(source, self.pseudonym, self.limits.bounds, time.time(), self.limits.max_events_per_request)
        try:
            records = await asyncio.get_running_loop().run_in_executor(self.validator, prepare, body, ctx)
        except BadRequest as error:
            self.rate.take(source.id, max(1, len(error.refused)), time.monotonic())
            self._quarantine(error.refused, source)
            return _problems(error, self.limits.max_problems)
        self.rate.take(source.id, len(records), time.monotonic())
        return await self._produce(records)

    def _quarantine(self, refused: list[Refused], source: Source) -> None:
        """Send the scrubbed copies of refused records to the DLQ without waiting (best-effort)."""
        producer = self.producer
        if not refused or producer is None:
            return

        def send() -> None:
            for r in refused:
                future = producer.send_headed(self.dlq_topic, r.copy.key, r.copy.value, r.headers("ingest", source.id))
                future.add_errback(lambda e: log.warning("a refused record's DLQ copy was not delivered: %r", e))

        self.sender.submit(send)

    async def connect(self, make_producer: Callable[[], EventProducer]) -> None:
        """Create the producer, retrying while Kafka does not answer (requests get 503 meanwhile)."""
        loop = asyncio.get_running_loop()
        while self.producer is None:
            try:
                self.producer = await loop.run_in_executor(self.sender, make_producer)
            except Exception as error:  # kafka-python raises its own errors, or ValueError, on bootstrap
                log.warning("Kafka does not answer yet (%r); retrying in 1 s", error)
                await asyncio.sleep(1)

    async def warm_up(self) -> None:
        """Start the validating processes (a spawn imports the modules: seconds) before the first request."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self.validator, _ready) for _ in range(self.limits.validators)))

    def kafka_ok(self) -> bool:
        return self.producer is not None and time.monotonic() - self.kafka_failed_at >= self.limits.kafka_down_s

    async def _produce(self, records: list[tuple[bytes, bytes]]) -> web.Response:
        assert self.producer is not None
        loop = asyncio.get_running_loop()
        self.pending += len(records)
        try:
            acked = await loop.run_in_executor(self.sender, self.producer.send_many_async, records, loop)
            await asyncio.wait_for(acked, self.limits.ack_timeout_s)
        except (DeliveryError, TimeoutError, OSError) as error:
            self.kafka_failed_at = time.monotonic()
            log.warning("Kafka did not acknowledge %d record(s): %r", len(records), error)
            return self._retry_later(503, "Kafka did not acknowledge the records; nothing is guaranteed, retry")
        except Exception as error:  # a kafka-python error raised by send itself (e.g. metadata timeout)
            if not type(error).__module__.startswith("kafka"):
                raise
            self.kafka_failed_at = time.monotonic()
            log.warning("Kafka refused %d record(s): %r", len(records), error)
            return self._retry_later(503, "Kafka is unreachable; retry")
        finally:
            self.pending -= len(records)
        return _json(202, {"accepted": len(records)})


def make_app(
    make_producer: Callable[[], EventProducer],
    tokens: TokenRegistry,
    pseudonym: Pseudonymiser,
    limits: Limits | None = None,
    dlq_topic: str = "dossier.dlq",
) -> web.Application:
    """The app; `make_producer` is called (and retried) in the background once the server starts."""
    limits = limits or Limits()
    ingest = Ingest(tokens, pseudonym, limits, dlq_topic)
    app = web.Application(client_max_size=limits.max_body_bytes)
    document = orjson.dumps(openapi_document(), option=orjson.OPT_INDENT_2)

    async def events(request: web.Request) -> web.Response:
        return await ingest.handle(request, contract_records)

    async def sync(request: web.Request) -> web.Response:
        return await ingest.handle(request, sync_records)

    async def openapi(_: web.Request) -> web.Response:
        return web.Response(body=document, content_type="application/json")

    async def health(_: web.Request) -> web.Response:
        ok = ingest.kafka_ok()
        return _json(200 if ok else 503, {"kafka": "ok" if ok else "failing", "pending": ingest.pending})

    async def kafka_lifecycle(_: web.Application) -> AsyncIterator[None]:
        connecting = asyncio.create_task(ingest.connect(make_producer))
        await ingest.warm_up()
        yield
        connecting.cancel()
        ingest.validator.shutdown(wait=True)
        ingest.sender.shutdown(wait=True)
        if ingest.producer is not None:
            ingest.producer.close(timeout=10)

    app.router.add_post("/v1/events", events)
    app.router.add_post("/v1/sync", sync)
    app.router.add_get("/openapi.json", openapi)
    app.router.add_get("/healthz", health)
    app.cleanup_ctx.append(kafka_lifecycle)
    app["ingest"] = ingest
    return app
