"""The one Kafka producer every producer of `dossier.events` goes through (kafka-python).

acks=all and idempotence are always on, so a retried batch is never written twice. Every delivery
failure is recorded by an errback and raised by the next `send`, `flush` or `close` as
`DeliveryError`: nothing is swallowed. `send_many_async` bridges a batch of kafka-python futures to
one asyncio future for the ingest API.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from typing import Any

from kafka.producer.future import FutureRecordMetadata, RecordMetadata

from wire.partitioner import key_partition
from wire.runtime import kafka_producer, use_fast_kafka_python_gzip
from wire.topics import TOPICS

TOPIC = TOPICS.events


class DeliveryError(RuntimeError):
    """Kafka did not acknowledge some records; `errors` holds the first few causes."""

    def __init__(self, count: int, errors: list[BaseException]) -> None:
        super().__init__(f"{count} record(s) not delivered to Kafka: {errors[0]!r}")
        self.count = count
        self.errors = errors


# Throughput settings for backfill (measured in bench/bench_producers.py); the ingest API overrides
# linger_ms to keep latency low.
BULK = {"linger_ms": 10, "batch_size": 256 * 1024, "compression_type": "gzip"}
LOW_LATENCY = {"linger_ms": 2, "batch_size": 256 * 1024, "compression_type": "gzip"}
# The ingest API answers within seconds: a record Kafka cannot take in time fails (503, client retries).
INGEST = {
    **LOW_LATENCY,
    "request_timeout_ms": 3000,
    "delivery_timeout_ms": 5000,
    "max_block_ms": 5000,
    "reconnect_backoff_max_ms": 1000,  # back to 202s within a second of Kafka's return
}


class EventProducer:
    """Produces keyed records to one topic; delivery failures surface as `DeliveryError`."""

    def __init__(self, topic: str = TOPIC, bootstrap: str | None = None, **settings: Any) -> None:
        config = {**BULK, **settings}
        use_fast_kafka_python_gzip()
        self.topic = topic
        self._producer = kafka_producer(
            bootstrap,
            client_id="motcua-producer",
            acks="all",
            enable_idempotence=True,
            max_in_flight_requests_per_connection=5,
            metrics_enabled=False,
            **config,
        )
        self._lock = threading.Lock()
        self._partition_count = 0
        self._failed = 0
        self._errors: list[BaseException] = []

    def _on_error(self, exc: BaseException) -> None:
        with self._lock:
            self._failed += 1
            if len(self._errors) < 5:
                self._errors.append(exc)

    def raise_if_failed(self) -> None:
        if self._failed:
            with self._lock:
                count, errors = self._failed, list(self._errors)
                self._failed, self._errors = 0, []
            raise DeliveryError(count, errors)

    def partition_for(self, key: bytes) -> int:
        """The partition Kafka's default partitioner picks (murmur2, cached).

        The partition count is read once, as a producer that starts before a topic grows keeps its
        mapping anyway.
        """
        if not self._partition_count:
            self._partition_count = len(self.partitions())
        return key_partition(key, self._partition_count)

    def send(self, key: bytes | None, value: bytes, partition: int | None = None) -> FutureRecordMetadata:
        if self._failed:
            self.raise_if_failed()
        if partition is None and key is not None:
            partition = self.partition_for(key)
        future = self._producer.send(self.topic, value=value, key=key, partition=partition)
        future.add_errback(self._on_error)
        return future

    def send_headed(
        self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]], tracked: bool = False
    ) -> FutureRecordMetadata:
        """A record with headers for another topic (the DLQ); kafka-python picks the partition by key.

        `tracked`: its failure is raised by the next `send`/`flush`/`close` like any other; else it is the
        caller's to handle on the returned future (the ingest API's best-effort DLQ copies).
        """
        future = self._producer.send(topic, value=value, key=key, headers=headers)
        if tracked:
            future.add_errback(self._on_error)
        return future

    def partitions(self) -> list[int]:
        parts = self._producer.partitions_for(self.topic)
        if not parts:
            raise DeliveryError(1, [RuntimeError(f"no partitions known for topic {self.topic!r}")])
        return sorted(parts)

    def broadcast(self, value: bytes) -> list[FutureRecordMetadata]:
        """Write `value` (a clock tick) into every partition of the topic."""
        return [self.send(None, value, partition=p) for p in self.partitions()]

    def flush(self, timeout: float | None = None) -> None:
        self._producer.flush(timeout)
        self.raise_if_failed()

    def close(self, timeout: float | None = None) -> None:
        try:
            self.flush(timeout)
        finally:
            self._producer.close(timeout=0 if self._failed else timeout)

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send_many_async(
        self, records: Iterable[tuple[bytes, bytes]], loop: asyncio.AbstractEventLoop
    ) -> asyncio.Future[list[RecordMetadata]]:
        """Send records (in order) and return a future that resolves once Kafka acknowledged them all.

        Blocking (it may wait for metadata or buffer space): call it from a worker thread. The
        future fails with `DeliveryError` if any record fails.
        """
        done: asyncio.Future[list[RecordMetadata]] = loop.create_future()
        # Not `self.send`: a failure here belongs to this batch's caller, not to the next sender.
        futures = [
            self._producer.send(self.topic, value=value, key=key, partition=self.partition_for(key))
            for key, value in records
        ]
        state = {"left": len(futures), "error": None}
        lock = threading.Lock()

        def settle() -> None:
            if done.done():
                return
            if state["error"] is not None:
                done.set_exception(DeliveryError(1, [state["error"]]))
            else:
                done.set_result([f.value for f in futures])

        def one_done(_: object, error: BaseException | None = None) -> None:
            with lock:
                if error is not None and state["error"] is None:
                    state["error"] = error
                state["left"] -= 1
                last = state["left"] == 0
            if last:
                loop.call_soon_threadsafe(settle)

        if not futures:
            loop.call_soon_threadsafe(settle)
        for f in futures:
            f.add_callback(one_done)
            f.add_errback(lambda e: one_done(None, e))
        return done
