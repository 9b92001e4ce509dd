"""The faust app: topics, tables, three agents, the KPI timer and the health page; a thin shell.

* The **dossier agent** reads ``dossier.events`` in batches (``stream.take_events``) and hands every record,
  in offset order, to its partition's ``PartitionProcessor``; after each batch it writes the changed
  dossiers to the ``dossiers`` table, and sends transitions, alerts, refused records (DLQ) and the changed
  summaries re-keyed by province, followed by each source partition's watermark into every partition of
  the summaries topic.
* The **KPI agent** reads the summaries topic: per partition a ``KpiPartition`` (``LiveKpis`` per
  province), its table keeping the latest summary per dossier and the source watermarks.
* A **timer** sends each province's changed rows, at most once per ``kpi_interval``, as partial rows
  re-keyed by row key; the **rollup agent** sums the provinces' partials of a row (a procedure has dossiers
  in many provinces) and emits the changed sums to the KPI topic (and unit overdue-rate alerts) right after
  the batch that changed them, at most once per ``kpi_interval`` (the timer sends what had to wait).

In-memory state (processors, timer heaps, live KPIs) is rebuilt from the tables whenever faust has
recovered them after a (re)assignment (``Table.on_recover``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict
from typing import Any

import faust
import orjson
from faust.types import TP, EventT

from dossier.calendar import default_calendar, format_instant
from dossier.codec import (
    StoredDossier,
    WatermarkRecord,
    decode_dossier,
    decode_float,
    decode_summaries_record,
    decode_summary_record,
    encode_dossier,
    encode_float,
    encode_summaries_record,
    encode_summary_record,
    encode_watermark_record,
)
from dossier.contract import ClockTick, InvalidRecord, decode_record, parse_timestamp
from dossier.kpi_stage import KpiPartition
from dossier.lifecycle import DossierSummary
from dossier.live_kpis import Archive
from dossier.processing import NO_WATERMARK, PartitionProcessor
from dossier.rollup import Partial, Rollup, row_key
from dossier.transitions import unit_rate_alert
from streams import commits, fetching, store
from streams.config import DOSSIERS_TABLE, PARTIALS_TABLE, SUMMARIES_TABLE, StreamsConfig
from streams.ordering import OffsetGate
from streams.pacing import EmissionPacer
from streams.sender import BatchSender, in_chunks
from streams.store import disk_table, version_header
from streams.watchdog import HeadGaps, Progress
from wire.dlq import dlq_headers, reason_text
from wire.groups import group_offsets, log_start_offsets
from wire.partitioner import key_partition
from wire.records import KPI_SCHEMA
from wire.runtime import use_fast_gzip

log = logging.getLogger(__name__)

EXIT_PROCESSING_FAILED = 70  # EX_SOFTWARE
HEAD_GAP_SECONDS = 15.0  # a head gap lasting this long is not a batch in progress (streams.watchdog.HeadGaps)
READ_AGAIN_AFTER = 5.0  # seconds before a partition with records missing is read again from the same offset
SLOW_STEP_SECONDS = 1.0  # a batch or an emission longer than this is logged
PROGRESS_EVERY = 1.0  # seconds between the watchdog's notes (``_note_progress``)
LOOP_LATE_SECONDS = 1.0  # a note this much later than due: the event loop was held, logged
TICKS_PER_INTERVAL = 4
RESET_KEY = b"\x00reset"  # partials records: a reset of a summaries partition's provinces, or
PARTIALS_KEY = b"\x00rows"  # a list of partial rows, all of one partials partition
VANISHED = b""  # a partials table value: the partial dropped to 0 or was reset (``dossier.rollup``)
PARTIALS_CACHED = 2_000  # row keys per partials partition kept in memory (a simulated day changes ~300)
PARTIALS_PER_RECORD = 200  # ~150 KB of JSON: well within a producer batch (512 KiB) and a broker message
SUMMARIES_KEY = b"\x00summaries"  # summaries records: several dossier summaries of one partition
SUMMARIES_PER_RECORD = 400  # ~150 KB of msgpack
_META = b"\x00"  # table keys of partition metadata (watermarks) start with it; dossier ids never do


def _watermark_key(partition: int, source_partition: int | None = None) -> bytes:
    return _META + f"wm:{partition}:{source_partition}".encode()


def _partial_key(row_key: str, province: str) -> bytes:
    return f"{row_key}\x00{province}".encode()


class _TablePartials:
    """The partials table's rows of one partition, as the rollup reads them (``dossier.rollup.PartialRows``);
    a vanished partial is kept as ``VANISHED``.

    Reads go through a cache of the row keys read last (``PARTIALS_CACHED``), which ``put`` keeps current: the
    rows of the current periods are summed at nearly every emission, and reading them back from SQLite and
    JSON each time took a tenth of the worker's CPU in the soak. Bounded, so memory stays flat as days pass.
    The cache keeps each partial's version and, as the table, ignores an older write (a record read again
    after a recovery, whose effect the table already holds).
    """

    def __init__(self, table: store.DiskTable, partition: int) -> None:
        self._table, self._partition = table, partition
        # row key -> (province -> partial row, province -> version of its partial or vanished mark)
        self._cache: OrderedDict[str, tuple[dict[str, Partial], dict[str, int]]] = OrderedDict()

    def of(self, key: str) -> dict[str, Partial]:
        """Province -> partial row (each with its ``province``); the caller must not change it."""
        cache = self._cache
        cached = cache.get(key)
        if cached is not None:
            cache.move_to_end(key)
            return cached[0]
        partials: dict[str, Partial] = {}
        versions: dict[str, int] = {}
        for stored_key, version, value in self._table.with_prefix(_partial_key(key, "")):
            province = stored_key.rpartition(b"\x00")[2].decode()
            versions[province] = version
            if value != VANISHED:
                partials[province] = orjson.loads(value)
        cache[key] = partials, versions
        if len(cache) > PARTIALS_CACHED:
            cache.popitem(last=False)
        return partials

    def put(self, key: str, province: str, partial: Partial | None, version: int) -> None:
        """A partial row just written to the table at ``version`` (None: written as vanished)."""
        cached = self._cache.get(key)
        if cached is None:
            return  # read from the table when next needed
        partials, versions = cached
        if version < versions.get(province, -1):
            return  # the table kept its newer one
        versions[province] = version
        if partial is None:
            partials.pop(province, None)
        else:
            partials[province] = partial

    def every(self) -> Iterator[tuple[str, str]]:
        for key, value in self._table.items(self._partition):
            if value != VANISHED:
                row, province = key.decode().split("\x00")
                yield row, province

    def row_keys(self) -> set[str]:
        return {key.decode().split("\x00")[0] for key, _ in self._table.items(self._partition)}


class _Step:
    """The wall-clock and CPU time of a step that holds the worker: computing, then sending.

    A slow step (over ``SLOW_STEP_SECONDS``) is logged with the CPU its computing took: when that is far
    below its wall-clock time, the worker was not computing but waiting (for the disk, or for a CPU the
    other processes held), which is what to look for in a latency spike.
    """

    __slots__ = ("computed", "cpu", "cpu_started", "started")

    def __init__(self) -> None:
        self.started, self.cpu_started = time.monotonic(), time.thread_time()
        self.computed, self.cpu = self.started, 0.0

    def mark_computed(self) -> float:
        """End the computing part; returns its wall-clock seconds."""
        self.computed, self.cpu = time.monotonic(), time.thread_time() - self.cpu_started
        return self.computed - self.started

    def note_if_slow(self, what: str) -> None:
        """Log the step if it was slow (the KPI latency's tail is made of them)."""
        done = time.monotonic()
        if done - self.started > SLOW_STEP_SECONDS:
            log.warning(
                "slow: %s took %.2f s (computing %.2f s, %.2f s of it on the CPU; sending %.2f s)",
                what,
                done - self.started,
                self.computed - self.started,
                self.cpu,
                done - self.computed,
            )


def _decode_summary(value: bytes) -> DossierSummary:
    return decode_summary_record(value)[0]


def _tp(message: Any) -> TP:
    return TP(message.topic, message.partition)


def committed_offsets(config: StreamsConfig, topic: str) -> dict[int, int]:
    """The consumer group's committed offsets of ``topic`` (absent: never committed)."""
    offsets = group_offsets(config.bootstrap, config.group_id, client_id=f"{config.group_id}-recovery")
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset >= 0}


class StreamsApp:
    """A faust worker's app and its in-memory state."""

    def __init__(self, config: StreamsConfig, replication: int = 1) -> None:
        """``replication``: of the topics faust would create itself (the worker's CLI creates them all first)."""
        self.config = config
        self.calendar = default_calendar()
        self.processors: dict[int, PartitionProcessor] = {}
        self.kpi_partitions: dict[int, KpiPartition] = {}
        self.rollups: dict[int, Rollup] = {}
        self.partial_rows: dict[int, _TablePartials] = {}  # what each rollup sums
        self.sent_unit_alerts: set[str] = set()
        self.refused = 0
        self.pacer = EmissionPacer(config.kpi_interval)
        self._next_rollup_emission = 0.0
        self._kpis_ready = self._rollups_ready = False  # set by the recovery callbacks
        self.progress = Progress(config.stall_seconds)
        self.head_gaps = HeadGaps(HEAD_GAP_SECONDS)
        self.in_order = OffsetGate(READ_AGAIN_AFTER)
        commits.install(self.in_order.next_offset)  # never past what was applied, in order
        fetching.install(config.fetch_wait)
        self.read_again = 0  # partitions read again from an earlier offset (records missing: OffsetGate, HeadGaps)
        self._commit_seen: tuple[object, float] | None = None  # faust's commit future, when first seen
        if config.compression == "gzip":
            use_fast_gzip()
        app = self.app = faust.App(
            config.group_id,
            broker=[f"kafka://{server}" for server in config.bootstrap.split(",")],
            store=f"{store.SCHEME}://",
            datadir=str(config.datadir),
            topic_partitions=config.partitions,
            topic_replication_factor=replication,
            table_standby_replicas=config.standbys,
            broker_session_timeout=config.session_timeout,
            broker_heartbeat_interval=min(3.0, config.session_timeout / 3),
            producer_acks=-1,
            # Fewer, larger, compressed produce requests: sending the table's changelog (each changed
            # dossier's events, every batch) costs more than processing when it is sent raw.
            producer_linger=0.05,
            producer_max_batch_size=512 * 1024,
            producer_compression_type=config.compression,
            web_enabled=True,
            web_host=config.web_host,
            web_port=config.web_port,
            web_metrics_enabled=True,
            autodiscover=False,
        )
        raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
        topics = config.topics
        self.events_topic = app.topic(topics.events, **raw)
        self.summaries_topic = app.topic(config.summaries_topic, partitions=config.partitions, internal=True, **raw)
        self.partials_topic = app.topic(config.partials_topic, partitions=config.partitions, internal=True, **raw)
        as_bytes: dict[str, Any] = {"key_type": bytes, "value_type": bytes, "partitions": config.partitions}

        def table(name: str) -> faust.Table:
            return app.Table(name, store=store.store_url(config.table_cache_kib(name)), **as_bytes)

        # faust has no public accessor of its started aiokafka producer; the senders share it
        self.dossier_out, self.kpi_out, self.rollup_out, self.timer_out = (
            BatchSender(lambda: app.producer._ensure_producer()) for _ in range(4)
        )
        if config.stages in ("all", "dossiers"):
            self.dossiers = table(DOSSIERS_TABLE)
            self.dossiers.on_recover(self._recover_dossiers)
            app.agent(self.events_topic, name="dossiers", concurrency=1)(
                self._batch_agent(self.process_dossier_batch, self.dossiers, self.dossier_out)
            )
        if config.stages in ("all", "kpis"):
            self.summaries = table(SUMMARIES_TABLE)
            self.partials = table(PARTIALS_TABLE)
            self.summaries.on_recover(self._recover_kpis)
            self.partials.on_recover(self._recover_rollups)
            app.agent(self.summaries_topic, name="kpis", concurrency=1)(
                self._batch_agent(self.process_kpi_batch, self.summaries, self.kpi_out)
            )
            app.agent(self.partials_topic, name="rollup", concurrency=1)(
                self._batch_agent(self.process_rollup_batch, self.partials, self.rollup_out)
            )
            # ticks four times per interval: what is due waits a quarter of it, not a whole one
            app.timer(interval=config.kpi_interval / TICKS_PER_INTERVAL, name="emit-kpis")(self._emit_kpis)
        app.on_partitions_revoked.connect(self._on_revoked)
        app.timer(interval=PROGRESS_EVERY, name="note-progress")(self._note_progress)

        async def health(web: Any, request: Any) -> Any:
            body = self.health()
            return web.json(body, status=200 if body["status"] == "ok" else 503)

        app.page("/health/", name="health")(health)

    async def _on_revoked(self, app: Any, revoked: set[Any], **_: Any) -> None:
        """Stop the KPI emission until the KPI tables are recovered: a revoked partition's rows are its new owner's.

        faust processes the events already fetched before it completes a revocation, so the agents keep
        their state until the recovery callbacks replace it; only the timer could send afterwards.
        """
        self._kpis_ready = self._rollups_ready = False

    def _batch_agent(
        self, process: Callable[[Sequence[EventT]], None], table: faust.Table, out: BatchSender
    ) -> Callable[[faust.StreamT], Awaitable[None]]:
        """An agent that processes its stream in batches (synchronously: nothing interleaves), then ends the
        batch's store transaction and sends what it produced."""

        async def agent(stream: faust.StreamT) -> None:
            async for events in stream.take_events(self.config.batch, within=self.config.batch_within):
                try:
                    step = _Step()
                    process([e for e in events if self.in_order.admit(_tp(e.message), e.message.offset)])
                    disk_table(table).commit()
                    step.mark_computed()
                    await out.send()
                    await self._read_missing_again()
                    step.note_if_slow(f"a batch of {len(events)} records of {table.name}")
                except Exception:
                    # faust acks a batch even when its processing raised (take_events acks in a finally)
                    # and would commit it: exit at once instead, so that the batch is read again.
                    log.exception("processing a batch failed: exiting before its offsets are committed")
                    os._exit(EXIT_PROCESSING_FAILED)

        return agent

    async def _read_again_from(self, tp: TP, offset: int) -> None:
        """Read a partition again from ``offset`` (counted in ``/health``'s ``read_again``).

        Through ``seek_wait``, which runs on faust's consumer thread: faust's ``seek`` runs aiokafka's from the
        event loop's thread, which removes the partition's fetched records while the consumer thread may be
        iterating over them (a ``KeyError`` in aiokafka's ``fetched_records`` crashed a worker in the
        two-worker SIGKILL test).
        """
        self.read_again += 1
        await self.app.consumer.seek_wait({tp: offset})

    async def _read_missing_again(self) -> None:
        """Read again the partitions where records were not delivered in order (``streams.ordering``)."""
        for tp, offset in self.in_order.take_holes(time.monotonic(), self.app.consumer.assignment()).items():
            log.warning("%s[%d]: records from %d on not delivered in order; reading them again", *tp, offset)
            await self._read_again_from(tp, offset)

    async def _start_in_order(self, topic: str, partitions: set[int]) -> dict[int, int]:
        """Records of the (re)assigned partitions are applied from the group's committed offsets on, or from
        the partition's first record where the group never committed (not from the first one delivered:
        faust may deliver a later one first). The committed offsets of ``topic`` (absent: never committed)."""
        committed = await asyncio.to_thread(committed_offsets, self.config, topic)
        never = partitions - committed.keys()
        starts = await asyncio.to_thread(log_start_offsets, self.config.bootstrap, topic, never) if never else {}
        faust_committed = self.app.consumer._committed_offset  # None where never committed, or committed at 0
        for partition in partitions:
            tp, start = TP(topic, partition), committed[partition] if partition in committed else starts[partition]
            self.in_order.start(tp, start)
            if faust_committed[tp] is None:  # its strict commits start a run there (``streams.commits``)
                faust_committed[tp] = start
        return committed

    def _skipped(self, message: Any) -> None:
        """A record of a partition this worker does not hold (revoked while buffered): not processed; its new
        owner reads it again, since its offset is not committed here. Logged: if it ever were, it is lost."""
        log.warning("skipped %s[%d]@%d: partition not held here", message.topic, message.partition, message.offset)

    def _write(
        self,
        table: faust.Table,
        event: EventT,
        key: bytes,
        value: bytes | None,
        out: BatchSender,
        version: int | None = None,
    ) -> None:
        """A table write (None: a deletion): ``_write_many`` of one."""
        self._write_many(table, event, [(key, value)], out, version)

    def _write_many(
        self,
        table: faust.Table,
        event: EventT,
        writes: list[tuple[bytes, bytes | None]],
        out: BatchSender,
        version: int | None = None,
    ) -> None:
        """Table writes (a value None: a deletion): their changelog records through the sender, to the event's
        partition, versioned by the event's offset unless given (``streams.store``: a late write of a dropped
        worker never wins); stored in one call (a statement per write took 7% of the worker's event loop at
        1,000 events/s)."""
        partition = event.message.partition
        version = event.message.offset if version is None else version
        topic, headers = table.changelog_topic.get_topic_name(), [version_header(version)]
        for key, value in writes:
            out.add(topic, key, value, partition, headers)
        disk_table(table).put_many((key, partition, version, value) for key, value in writes)

    # ------------------------------------------------------------------------------------ dossier agent

    def process_dossier_batch(self, events: Sequence[EventT]) -> None:
        """Every record in order, then the batch's writes and sends (synchronous: nothing interleaves)."""
        last_of: dict[int, EventT] = {}
        for event in events:
            message = event.message
            processor = self.processors.get(message.partition)
            if processor is None:
                self._skipped(message)  # revoked while buffered: its new owner reads it again
                continue
            last_of[message.partition] = event
            raw = message.value
            try:
                record = decode_record(raw)
            except InvalidRecord as invalid:
                self.refused += 1
                headers = dlq_headers(
                    reason_text(invalid.violations),
                    stage="validate",
                    source="streams",
                    topic=message.topic,
                    partition=message.partition,
                    offset=message.offset,
                )
                self.dossier_out.add(self.config.topics.dlq, message.key, raw, 0, headers)
                continue
            if isinstance(record, ClockTick):
                processor.on_tick(message.offset, parse_timestamp(record.at))
            else:
                processor.on_event(message.offset, raw, record)
        for partition, event in last_of.items():
            self._flush_processor(self.processors[partition], event)

    def _flush_processor(self, processor: PartitionProcessor, event: EventT) -> None:
        partition = processor.partition
        self._write_many(
            self.dossiers,
            event,
            [(dossier_id.encode(), encode_dossier(stored)) for dossier_id, stored in processor.take_dirty()],
            self.dossier_out,
        )
        if processor.watermark_changed:
            self._write(
                self.dossiers, event, _watermark_key(partition), encode_float(processor.watermark), self.dossier_out
            )
        self._send_outputs(processor)

    def _send_outputs(self, processor: PartitionProcessor) -> None:
        out = processor.take_outputs()
        topics, sender = self.config.topics, self.dossier_out
        for key, record in out.transitions:
            sender.add(topics.transitions, key.encode(), orjson.dumps(record))
        for key, record in out.alerts:
            sender.add(topics.alerts, key.encode(), orjson.dumps(record))
        partitions = self.config.partitions
        by_partition: dict[int, list[bytes]] = {}
        for summary, version in out.summaries.values():
            q = key_partition(summary.province.encode(), partitions)
            by_partition.setdefault(q, []).append(encode_summary_record(summary, version))
        for q, encoded in by_partition.items():
            for chunk in in_chunks(encoded, SUMMARIES_PER_RECORD):
                sender.add(self.config.summaries_topic, SUMMARIES_KEY, encode_summaries_record(chunk), q)
        if processor.watermark_changed and processor.watermark > NO_WATERMARK:
            record = encode_watermark_record(processor.partition, processor.watermark, partitions)
            for q in range(partitions):
                sender.add(self.config.summaries_topic, None, record, q)
        processor.watermark_changed = False

    async def _recover_dossiers(self) -> None:
        """Rebuild the processors of the assigned partitions from the table; re-send uncommitted outputs."""
        assigned = self._hold(self.dossiers, self.config.topics.events)
        committed = await self._start_in_order(self.config.topics.events, assigned)
        store = disk_table(self.dossiers)
        cache_size = max(1, self.config.cache // max(1, len(assigned)))  # MOTCUA_STREAMS_CACHE is per worker
        self.processors = {}
        for partition in sorted(assigned):
            watermark = store.get(_watermark_key(partition))
            entries = (  # streamed from the store: a partition's dossiers are never all in memory at once
                (key.decode(), decode_dossier(value))
                for key, value in store.items(partition)
                if not key.startswith(_META)
            )
            processor = PartitionProcessor(partition, self.calendar, self._load_dossier, cache_size)
            processor.recover(
                entries, NO_WATERMARK if watermark is None else decode_float(watermark), committed.get(partition)
            )
            self.processors[partition] = processor
            self._send_outputs(processor)
        await self.dossier_out.send()
        log.info("dossier partitions %s recovered, committed offsets %s", sorted(assigned), committed)

    def _load_dossier(self, dossier_id: str) -> StoredDossier | None:
        value = disk_table(self.dossiers).get(dossier_id.encode())
        return None if value is None else decode_dossier(value)

    # ---------------------------------------------------------------------------------------- KPI agent

    def process_kpi_batch(self, events: Sequence[EventT]) -> None:
        for event in events:
            message = event.message
            kpis = self.kpi_partitions.get(message.partition)
            if kpis is None:
                self._skipped(message)
                continue
            record = decode_summaries_record(message.value)
            if isinstance(record, WatermarkRecord):
                kpis.on_watermark(record.source_partition, record.watermark, record.source_partitions)
                key = _watermark_key(message.partition, record.source_partition)
                value = encode_float(kpis.source_watermarks[record.source_partition])
                self._write(self.summaries, event, key, value, self.kpi_out)
                continue
            for encoded in record:
                self._apply_summary(kpis, event, encoded)

    def _apply_summary(self, kpis: KpiPartition, event: EventT, encoded: bytes) -> None:
        """Count a summary and keep it in the table, versioned by its own version (the source offset of the
        last event it counts), unless the table holds a newer one. Two ways an older one comes after a newer
        one: after a rebuild from the table, the records from the committed offset on are read again; and a
        worker the group dropped may send what it was processing after its successor sent newer summaries.
        Neither may move a dossier back to an older state (the table, read for the dossiers the KPIs forgot,
        would no longer say what they counted)."""
        summary, version = decode_summary_record(encoded)
        key = summary.dossier_id.encode()
        if disk_table(self.summaries).holds_newer(key, version):
            return
        kpis.on_summary(summary)
        self._write(self.summaries, event, key, encoded, self.kpi_out, version)

    async def _recover_kpis(self) -> None:
        """Rebuild the live KPIs of the assigned summaries partitions; the next emission re-sends every row.

        Two passes over each partition's summaries, streamed from the store: the earliest acceptance of
        each province, then the counting (so that no period is ever added before the first one).
        """
        assigned = self._hold(self.summaries, self.config.summaries_topic)
        await self._start_in_order(self.config.summaries_topic, assigned)
        partitions = self.config.partitions
        parts = {q: KpiPartition(q, self.calendar, partitions, self._summary_archive) for q in assigned}
        for q, kpis in parts.items():
            earliest: dict[str, float] = {}
            for key, value in disk_table(self.summaries).items(q):
                if key.startswith(_META):
                    kpis.on_watermark(int(key.split(b":")[2]), decode_float(value), partitions)
                    continue
                summary = _decode_summary(value)
                earliest[summary.province] = min(earliest.get(summary.province, math.inf), summary.accepted_ts)
            kpis.restore(earliest, lambda q=q: self._stored_summaries(q))
        self.kpi_partitions = parts
        self._kpis_ready = True
        out = self.timer_out
        for q in sorted(parts):
            for partition in range(partitions):  # the reset goes before the rows, in every partials partition
                out.add(self.config.partials_topic, RESET_KEY, orjson.dumps({"reset": q}), partition)
        self._send_partials(out)
        await out.send()
        log.info("summaries partitions %s recovered", sorted(assigned))

    def _stored_summaries(self, q: int, province: str | None = None) -> Iterator[DossierSummary]:
        """The summaries the table holds for summaries partition ``q`` (of one province), streamed."""
        for key, value in disk_table(self.summaries).items(q):
            if not key.startswith(_META):
                summary = _decode_summary(value)
                if province is None or summary.province == province:
                    yield summary

    def _summary_archive(self, province: str) -> Archive:
        """A province's summaries in the table, for ``LiveKpis`` to read the finished ones it forgot."""
        store, q = disk_table(self.summaries), key_partition(province.encode(), self.config.partitions)

        def get(dossier_id: str) -> DossierSummary | None:
            value = store.get(dossier_id.encode())
            return None if value is None else _decode_summary(value)

        return Archive(get, lambda: self._stored_summaries(q, province))

    async def _emit_kpis(self, _app: Any = None) -> None:  # faust passes the app to timers
        """Each province's changed rows to the rollup; the rollup's changed sums to the KPI topic.

        At most once per interval; less often while a backlog makes emissions costly (``streams.pacing``), so
        that they never take more than ``EmissionPacer.share`` of the worker's time (a row is sent at most once
        per interval).
        """
        if not (self._kpis_ready and self._rollups_ready):
            return
        step = _Step()
        if self.pacer.due(step.started):
            self._send_partials(self.timer_out)
            computing = step.mark_computed()
            self.pacer.emitted(step.started, computing)  # the computing only: while sending, the agents run
            await self.timer_out.send()
            step.note_if_slow("an emission of partial rows")
        elif time.monotonic() >= self._next_rollup_emission:  # sums no rollup batch has sent yet
            # not in the tick that sent partial rows: the sums it would send then hold back those of the rows
            # just sent (``_add_rollup_rows``), which the rollup's batch sends as soon as they arrive
            self._add_rollup_rows(self.rollup_out)
            step.mark_computed()
            await self.rollup_out.send()
            step.note_if_slow("an emission of KPI rows")

    def _add_rollup_rows(self, out: BatchSender) -> None:
        """The rollups' changed sums as KPI rows (and unit overdue-rate alerts), queued on ``out``.

        The next emission waits an interval after one that sent rows, less a timer tick: the partial rows of
        each KPI emission arrive about an interval after the previous ones, a few ms early as often as late.
        Before, the rollup's hop took 0.62 s (median at 0.5 s intervals): the timer sent the sums of the last
        batch in the tick that sent the next partial rows, and these, arriving 0.2 s later, waited for the
        tick after that."""
        config = self.config
        sent = False
        for rollup in list(self.rollups.values()):
            for row, provinces in rollup.changed_sums():
                sent = True
                key = row_key(row)
                out.add(config.topics.kpis, key.encode(), orjson.dumps({"schema": KPI_SCHEMA, **row}))
                province = provinces[0] if len(provinces) == 1 else ",".join(provinces)
                alert = unit_rate_alert(province, row, config.unit_alert_rate, config.unit_alert_min)
                if alert is not None and alert["alert_id"] not in self.sent_unit_alerts:
                    self.sent_unit_alerts.add(alert["alert_id"])
                    out.add(config.topics.alerts, alert["alert_id"].encode(), orjson.dumps(alert))
        if sent:
            self._next_rollup_emission = time.monotonic() + config.kpi_interval * (1 - 1 / TICKS_PER_INTERVAL)

    def _send_partials(self, out: BatchSender) -> None:
        """Every province's rows changed since the last call, as partial rows to the rollup: one record per
        partials partition (a row's partition is its key's), which spares faust's per-message cost."""
        partitions = self.config.partitions
        by_partition: dict[int, list[dict[str, Any]]] = {}
        for kpis in list(self.kpi_partitions.values()):
            for province, row in kpis.changed_rows():
                q = key_partition(row_key(row).encode(), partitions)
                by_partition.setdefault(q, []).append({"province": province, **row})
        for q, partials in by_partition.items():
            for chunk in in_chunks(partials, PARTIALS_PER_RECORD):
                out.add(self.config.partials_topic, PARTIALS_KEY, orjson.dumps(chunk), q)

    # ------------------------------------------------------------------------------------ rollup agent

    def process_rollup_batch(self, events: Sequence[EventT]) -> None:
        for event in events:
            message = event.message
            rollup = self.rollups.get(message.partition)
            if rollup is None:
                self._skipped(message)
                continue
            rows = self.partial_rows[message.partition]
            payload = orjson.loads(message.value)
            if message.key == RESET_KEY:
                dropped = rollup.reset(
                    lambda province, q=payload["reset"], n=self.config.partitions: (
                        key_partition(province.encode(), n) == q
                    )
                )
                for key, province in dropped:
                    self._write(self.partials, event, _partial_key(key, province), VANISHED, self.rollup_out)
                    rows.put(key, province, None, message.offset)
                continue
            writes = []
            for partial in payload:
                key, province = row_key(partial), partial["province"]
                kept = partial if partial["to_process"] else None  # to_process 0: the row no longer exists
                writes.append((_partial_key(key, province), VANISHED if kept is None else orjson.dumps(partial)))
                rows.put(key, province, kept, message.offset)
                rollup.on_partial(partial)
            self._write_many(self.partials, event, writes, self.rollup_out)
        if self._rollups_ready and time.monotonic() >= self._next_rollup_emission:
            self._add_rollup_rows(self.rollup_out)

    async def _recover_rollups(self) -> None:
        """Rollups over the assigned partials partitions of the table; the next emission re-sends their rows."""
        assigned = self._hold(self.partials, self.config.partials_topic)
        await self._start_in_order(self.config.partials_topic, assigned)
        self.partial_rows = {q: _TablePartials(disk_table(self.partials), q) for q in assigned}
        self.rollups = {q: Rollup(rows) for q, rows in self.partial_rows.items()}
        for rollup in self.rollups.values():
            rollup.mark_all()
        self._rollups_ready = True
        log.info("partial rows partitions %s recovered", sorted(assigned))

    # ------------------------------------------------------------------------------------------- health

    def consumed(self) -> dict[str, dict[int, dict[str, Any]]]:
        """Per source topic and partition held: committed offset, high watermark, whether faust has it paused,
        and the acknowledged offsets not committed yet (faust commits up to the first gap in them)."""
        consumer = self.app.consumer
        sources = {self.config.topics.events, self.config.summaries_topic, self.config.partials_topic}
        committed, paused, acked = consumer._committed_offset, consumer._paused_partitions, consumer._acked
        out: dict[str, dict[int, dict[str, Any]]] = {}
        for tp in sorted(consumer.assignment()):
            if tp.topic in sources:
                pending = acked.get(tp) or []
                out.setdefault(tp.topic, {})[tp.partition] = {
                    "committed": committed.get(tp),  # None before the first commit
                    "highwater": consumer.highwater(tp) or 0,
                    "paused": tp in paused,
                    "acked_uncommitted": len(pending),
                    "first_acked_uncommitted": min(pending, default=None),
                    "acked_repeated": len(pending) - len(set(pending)),  # faust cannot commit past a repeat
                    "acked_head": sorted(pending)[:6],
                }
        return out

    async def _note_progress(self, _app: Any = None) -> None:
        """Note for the watchdog whether records wait on the consumed partitions, and how far commits and
        table recovery have come (faust has no public view of its committed offsets)."""
        now = time.monotonic()
        noted_at = self.progress.noted_at
        if noted_at is not None and now - noted_at > PROGRESS_EVERY + LOOP_LATE_SECONDS:
            log.warning("slow: the event loop was held for %.2f s", now - noted_at - PROGRESS_EVERY)
        lag, offsets, heads = 0, [], {}
        for topic, partitions in self.consumed().items():
            for partition, state in partitions.items():
                done = state["committed"] or 0
                lag += max(0, state["highwater"] - done)
                offsets.append((topic, partition, done))
                heads[TP(topic, partition)] = (state["committed"], state["first_acked_uncommitted"])
        for tp in self.head_gaps.note(time.monotonic(), heads):
            committed = heads[tp][0]
            log.warning(
                "%s[%d]: offsets from %d on were never delivered (first acknowledged: %d); reading them again",
                tp.topic,
                tp.partition,
                committed,
                heads[tp][1],
            )
            await self._read_again_from(tp, committed)
        await self._read_missing_again()  # an agent with no batch coming (its read-again delivered nothing)
        self._commit_running_seconds()
        recovery = self.app.tables.recovery
        offsets_read = (*recovery.active_offsets.values(), *recovery.standby_offsets.values())
        recovered = sum(offset or 0 for offset in offsets_read)  # None before a partition's first
        self.progress.note(time.monotonic(), lag > 0, (tuple(sorted(offsets)), recovered))

    def _commit_running_seconds(self) -> float | None:
        """How long faust's current offset commit has been running (None: none is), as the notes saw it."""
        fut = self.app.consumer._commit_fut
        if fut is None:
            self._commit_seen = None
            return None
        if self._commit_seen is None or self._commit_seen[0] is not fut:
            self._commit_seen = (fut, time.monotonic())
        return round(time.monotonic() - self._commit_seen[1], 1)

    def _hold(self, table: faust.Table, topic: str) -> set[int]:
        """The partitions of ``topic`` this worker now holds; the table's store keeps only theirs.

        By the source topic's assignment, not by the changelog partitions faust replayed: those are the same
        partitions, or the table lacks what it should hold, which is logged as an error (faust leaves a
        topic it found no metadata for out of its assignment).
        """
        assigned = self._assigned(topic)
        replayed = self._assigned(table.changelog_topic.get_topic_name())
        if replayed != assigned:
            log.error(
                "table %s: changelog partitions %s replayed, but %s holds %s",
                table.name,
                sorted(replayed),
                topic,
                sorted(assigned),
            )
        store = disk_table(table)
        store.keep_partitions(assigned)
        store.commit()
        return assigned

    def _assigned(self, topic: str) -> set[int]:
        return {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == topic}

    def held(self) -> dict[str, int]:
        """What the worker's stages hold in memory, summed over its partitions (``/health``: the state's size)."""
        held: Counter[str] = Counter()
        for processor in self.processors.values():
            held.update(processor.held())
        for kpis in self.kpi_partitions.values():
            held.update(kpis.held())
        return dict(held)

    def health(self) -> dict[str, Any]:
        """What the health endpoint answers: ready or not, and where event time stands per partition."""
        app = self.app
        ready = not app.rebalancing and app.consumer_generation_id is not None
        stalled = self.progress.stalled(time.monotonic())
        return {
            "status": "stalled" if stalled else "ok" if ready else "starting",
            **({"reason": stalled} if stalled else {}),
            "app_id": self.config.app_id,
            "group_id": self.config.group_id,
            "stages": self.config.stages,
            "partitions": {
                str(p): {
                    "watermark": None if proc.watermark == NO_WATERMARK else format_instant(proc.watermark),
                    **asdict(proc.counters),
                }
                for p, proc in sorted(self.processors.items())
            },
            "kpi_partitions": {
                str(q): None if kpis.watermark == -math.inf else format_instant(kpis.watermark)
                for q, kpis in sorted(self.kpi_partitions.items())
            },
            "held": self.held(),
            "refused": self.refused,
            "kpi_emission": self.pacer.state(),
            "consumed": self.consumed(),
            "commit_running_seconds": self._commit_running_seconds(),
            "read_again": self.read_again,
        }
