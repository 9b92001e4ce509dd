"""The sink's loop: consume, batch, insert (in a writer thread), send refusals to the DLQ, commit.

The checkpoint order is quix-streams': a batch's rows are acknowledged by ClickHouse, then its refused
records by Kafka (DLQ), and only then are its offsets committed. A crash anywhere before the commit
means the batch is read again and re-inserted, which the deduplicating tables make harmless.

One batch is written while the next is read. When the next is full and the write is not done (ClickHouse
down: the writer retries with backoff), the consumer's partitions are paused: memory holds at most two
batches plus what Kafka already prefetched. On a rebalance (eager: every partition is revoked), the write
in flight is finished and committed, the batch being read is dropped, and reading resumes from the
committed offsets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from sinks.batch import Batch
from sinks.config import SinkConfig
from sinks.dlq import send_refusals
from sinks.metrics import SinkMetrics, serve_metrics
from sinks.open_dossiers import Sweeper
from sinks.processors import PROCESSORS, Refusal
from sinks.writer import Backoff, ClickHouseWriter, Stopped
from wire.runtime import aiokafka_consumer, aiokafka_producer, use_fast_gzip

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 10.0  # seconds a stopping sink keeps retrying its last batch before giving it up
READ_WAIT_MAX = 0.5  # seconds a read may wait for records: the stop is seen within this, whatever --batch-seconds
# The loop (decoding) and the writer thread (serialising) are both CPU-bound under the GIL; handing the GIL
# over every 5 ms (Python's default) thrashes between them. At 0.2 s each runs a batch's worth at a time
# and still yields whenever the other waits on a socket: +15% rows/s measured (bench/bench_sink.py).
GIL_SWITCH_INTERVAL = 0.2


def consumer(cfg: SinkConfig) -> AIOKafkaConsumer:
    """The sink's consumer: manual commits (after ClickHouse has the batch), large fetches, a short fetch wait."""
    return aiokafka_consumer(
        bootstrap=cfg.bootstrap,
        group_id=cfg.group_id,
        client_id=f"{cfg.group_id}-consumer",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=2 * 1024 * 1024,
        fetch_max_bytes=32 * 1024 * 1024,
        # aiokafka's 0.5 s default held a fetch with nothing new that long, and the KPI rows behind it
        # (streams/fetching.py, the same for the streams worker): freshness p99 0.82 s in the sink's part
        fetch_max_wait_ms=round(cfg.fetch_wait * 1000),
    )


@dataclass
class _InFlight:
    batch: Batch
    future: asyncio.Future[list[Refusal]]
    generation: int


class Sink:
    def __init__(self, config: SinkConfig, metrics: SinkMetrics | None = None) -> None:
        self.config = config
        self.metrics = metrics or SinkMetrics()
        self._writer_stop = threading.Event()
        self._writer = ClickHouseWriter(
            config.clickhouse,
            config.database,
            Backoff(config.retry_first_delay, config.retry_max_delay),
            self._writer_stop,
            on_retry=self.metrics.retried,
            on_insert=lambda table, rows, _seconds: self.metrics.inserted(table.name, rows),
            sweeper=Sweeper(config.database, config.sweep_seconds) if config.lands_transitions else None,
        )
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse-writer")
        self._batch = Batch()
        self._in_flight: _InFlight | None = None
        self._generation = 0
        self._lock = asyncio.Lock()
        self._committed: dict[TopicPartition, int] = {}
        self._consumer: AIOKafkaConsumer
        self._producer: AIOKafkaProducer

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, then store and commit what was read (for up to SHUTDOWN_GRACE seconds)."""
        cfg = self.config
        self._consumer = consumer(cfg)
        self._consumer.subscribe([cfg.topic(role) for role in cfg.roles], listener=_Rebalance(self))
        self._producer = aiokafka_producer(
            cfg.bootstrap, client_id=f"{cfg.group_id}-dlq", acks="all", enable_idempotence=True
        )
        server = None
        if cfg.health_port is not None:
            server = await serve_metrics(self.metrics, cfg.health_host, cfg.health_port)
        await self._consumer.start()
        await self._producer.start()
        try:
            await self._loop(stop)
            await self._drain()
        finally:
            self._writer_stop.set()
            await self._consumer.stop()
            await self._producer.stop()
            self._executor.shutdown(wait=True)
            self._writer.close()
            if server is not None:
                server.close()

    async def _loop(self, stop: asyncio.Event) -> None:
        cfg = self.config
        while not stop.is_set():
            now = time.monotonic()
            self.metrics.last_loop = now
            batch = self._batch
            if batch.records and (batch.records >= cfg.batch_records or self._wait_left(batch, now) <= 0):
                await self._complete()
                self._submit()
                continue
            if self._in_flight is not None and self._in_flight.future.done():
                await self._complete()
            wait = min(self._wait_left(batch, now), READ_WAIT_MAX) if batch.records else READ_WAIT_MAX
            if self._in_flight is not None:
                wait = min(wait, 0.02)  # look again soon: committing a finished write is what makes rows count
            await self._read(max(0.0, wait), cfg.batch_records - batch.records)

    def _wait_left(self, batch: Batch, now: float) -> float:
        """Seconds until a non-empty batch is due: its age reaches ``batch_seconds``, or (when set) no record
        came for ``batch_quiet_seconds``."""
        cfg = self.config
        left = cfg.batch_seconds - batch.age(now)
        if cfg.batch_quiet_seconds > 0:
            left = min(left, cfg.batch_quiet_seconds - batch.quiet_for(now))
        return left

    async def _read(self, wait: float, room: int) -> None:
        chunks = await self._consumer.getmany(timeout_ms=int(wait * 1000), max_records=max(1, room))
        batch = self._batch
        for tp, messages in chunks.items():
            processed = PROCESSORS[self.config.role_of(tp.topic)](tp.topic, tp.partition, messages)
            batch.add(tp.topic, tp.partition, messages, processed)

    def _submit(self) -> None:
        batch, self._batch = self._batch, Batch()
        for topic, partition in batch.next_offsets:  # for sink_batches.lag
            highwater = self._consumer.highwater(TopicPartition(topic, partition))
            if highwater is not None:
                batch.highwater[(topic, partition)] = highwater
        future = asyncio.get_running_loop().run_in_executor(self._executor, self._writer.write, batch)
        self._in_flight = _InFlight(batch, future, self._generation)

    async def _complete(self) -> None:
        """Wait for the write in flight (consumption paused meanwhile), send its refusals, commit its offsets."""
        async with self._lock:
            in_flight = self._in_flight
            if in_flight is None:
                return
            if not in_flight.future.done():
                await self._wait_paused(in_flight.future)
            self._in_flight = None
            try:
                refused = in_flight.future.result()
            except Stopped:
                log.warning("sink stopped with an unstored batch of %d records: not committed", in_flight.batch.records)
                return
            if in_flight.generation != self._generation:
                return  # its partitions were revoked: the next owner reads them again
            batch = in_flight.batch
            refusals = batch.refusals + refused
            # a DLQ record is never sent back to the DLQ (it would come round again): said loudly, then left
            looping = [r for r in refusals if r.message.topic == self.config.dlq_topic]
            for r in looping:
                log.error("DLQ record %s/%d refused by ClickHouse, not re-queued: %s",
                          r.message.partition, r.message.offset, r.reason)
            await send_refusals(self._producer, self.config.dlq_topic,
                                [r for r in refusals if r.message.topic != self.config.dlq_topic])
            await self._commit(batch)
            latency = 0.0 if batch.opened_at is None else time.monotonic() - batch.opened_at
            self.metrics.committed(batch.records, batch.rows(), len(refusals), batch.skipped, latency)

    async def _wait_paused(self, future: asyncio.Future[list[Refusal]]) -> None:
        """Wait for the writer with every partition paused, so that nothing more is fetched meanwhile.

        No ``getmany`` here: during a rebalance it waits for the revocation listener, which waits for the
        lock held here. An outage longer than ``max_poll_interval_ms`` (5 minutes) makes the group move
        the partitions; the write's commit then fails harmlessly and the new owner re-reads them.
        """
        self._consumer.pause(*self._consumer.assignment())
        try:
            while not future.done():
                await asyncio.wait([future], timeout=1.0)
                self.metrics.last_loop = time.monotonic()
        finally:
            self._consumer.resume(*self._consumer.paused())

    async def _commit(self, batch: Batch) -> None:
        offsets = {TopicPartition(t, p): OffsetAndMetadata(o, "") for (t, p), o in batch.next_offsets.items()}
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except KafkaError as error:  # e.g. a rebalance in between: the next owner re-reads, harmlessly
            log.warning("offset commit failed, records will be read again: %s", error)
            return
        for tp, meta in offsets.items():
            self._committed[tp] = meta.offset
        self._update_lag()

    def _update_lag(self) -> None:
        lag = {}
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            committed = self._committed.get(tp)
            if highwater is not None and committed is not None:
                lag[f"{tp.topic}/{tp.partition}"] = max(0, highwater - committed)
        self.metrics.lag = lag

    async def _drain(self) -> None:
        """On a clean stop: store and commit the write in flight and the batch being read."""
        timer = asyncio.get_running_loop().call_later(SHUTDOWN_GRACE, self._writer_stop.set)
        try:
            await self._complete()
            if self._batch.records:
                self._submit()
                await self._complete()
        finally:
            timer.cancel()

    async def on_revoked(self) -> None:
        await self._complete()
        self._generation += 1
        self._batch = Batch()
        self._committed.clear()


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    async def on_partitions_revoked(self, revoked: object) -> None:
        await self.sink.on_revoked()

    async def on_partitions_assigned(self, assigned: object) -> None:
        pass


async def run_sink(config: SinkConfig, stop: asyncio.Event | None = None, metrics: SinkMetrics | None = None) -> None:
    """Run a sink until ``stop`` is set (or SIGINT/SIGTERM when no event is given)."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    use_fast_gzip()
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signum, stop.set)
    await Sink(config, metrics).run(stop)
