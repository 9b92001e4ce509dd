"""Replaying a range of ``dossier.events`` through the core, in worker processes, without a consumer group.

Each worker reads its share of the partitions (``audit.kafka_range``) and either

* counts KPI rows: records go through a ``DossierPass`` (bounded memory; every dossier's events are in one
  partition, in offset order, so arrival order there is the log's) and each dossier is summarised and
  counted as ``motcua kpi`` does; the parent adds the workers' counts (they add, cell by cell) and prints the
  rows; or
* replays the transitions and dossier alerts the live worker emits: each partition's records, in offset
  order, through the live worker's own ``dossier.processing.PartitionProcessor`` (watermark, timers,
  ``dossier.transitions``), written per partition to a file the parent prints in partition order. Unlike
  the KPI count, this holds every dossier of the range in memory, as the live worker's table does.

Progress (records read per range, buckets counted per worker) is shared through ``multiprocessing`` arrays.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import orjson
from aiokafka import ConsumerRecord

from audit.diff import Evidence, collect
from audit.dossiers import DossierPass, ReadStats
from audit.eventfile import no_cyclic_gc
from audit.kafka_range import PartitionRange, consumer, describe_number, read_ranges, record_number, stop
from audit.kpi_report import count_dossiers
from dossier.calendar import default_calendar
from dossier.contract import ClockTick, InvalidRecord, ParsedEvent, Violation, decode_record, parse_timestamp
from dossier.kpi import Cell, Counts, KpiTable, Scope
from dossier.merger import Hierarchy
from dossier.periods import PeriodKind, periods_overlapping

Output = Literal["rows", "transitions", "alerts", "evidence"]
OUTPUTS: tuple[Output, ...] = ("rows", "transitions", "alerts")
"""What ``motcua replay --print`` offers (``evidence``: the dossiers of some rows, for ``motcua audit diff``)."""
RECORD_BYTES_ESTIMATE = 450
"""What a record of the log weighs, to size the buckets before it is read (an estimate: see audit.spill)."""


@dataclass(frozen=True, slots=True)
class Job:
    """What one worker replays (picklable)."""

    bootstrap: str
    topic: str
    ranges: tuple[PartitionRange, ...]
    indices: tuple[int, ...]  # of its ranges in the shared progress array
    worker: int
    output: Output
    period: PeriodKind
    first: date
    last: date
    out_dir: Path | None = None  # where transitions / alerts go, one file per partition
    scope: Scope = "province"  # evidence: of the dossiers of these rows
    hierarchy: Hierarchy = "legacy"
    scope_ids: frozenset[str] = frozenset()


@dataclass(slots=True)
class Result:
    worker: int
    stats: ReadStats
    cells: dict[Cell, dict[int, Counts]] = field(default_factory=dict)
    files: dict[int, Path] = field(default_factory=dict)
    evidence: dict[str, Evidence] = field(default_factory=dict)


class Progress:
    """Counters the workers write and the parent reads: records read per range, buckets counted per worker."""

    def __init__(self, ranges: int, workers: int) -> None:
        context = multiprocessing.get_context("fork")
        self.read = context.Array("q", max(1, ranges), lock=False)
        self.buckets = context.Array("q", max(1, 2 * workers), lock=False)  # (done, total) per worker


def report_invalid(number: int, violations: list[Violation]) -> None:
    sys.stderr.write(f"{describe_number(number)}: invalid: {'; '.join(map(str, violations))}\n")


def run_job(job: Job, progress: Progress) -> Result:
    """One worker's replay (in its own process, or in the caller's)."""
    index = {r.partition: i for r, i in zip(job.ranges, job.indices, strict=True)}

    def on_batch(partition: int, read: int) -> None:
        progress.read[index[partition]] = read

    with no_cyclic_gc():
        if job.output == "rows":
            return _count_rows(job, progress, on_batch)
        if job.output == "evidence":
            return _collect_evidence(job, progress, on_batch)
        return _replay_partitions(job, on_batch)


def _read_dossiers(job: Job, on_batch: Callable[[int, int], None]) -> DossierPass:
    """Every record of the job's ranges in a ``DossierPass`` (the caller closes it)."""
    dossiers = DossierPass(sum(len(r) for r in job.ranges) * RECORD_BYTES_ESTIMATE, report_invalid)
    add = dossiers.add_many

    def on_records(partition: int, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        base = record_number(partition, 0)
        add([base | r.offset for r in records], [r.value or b"" for r in records])

    try:
        asyncio.run(_read(job, on_records, on_batch))
    except BaseException:
        dossiers.__exit__(None, None, None)
        raise
    return dossiers


def _count_rows(job: Job, progress: Progress, on_batch: Callable[[int, int], None]) -> Result:
    calendar = default_calendar()
    table = KpiTable(periods_overlapping(job.period, job.first, job.last) if job.first < job.last else [], calendar)
    with _read_dossiers(job, on_batch) as dossiers:
        count_dossiers(table, _noting_buckets(dossiers, progress, job.worker), calendar)
        return Result(job.worker, dossiers.stats, cells=table.cells)


def _collect_evidence(job: Job, progress: Progress, on_batch: Callable[[int, int], None]) -> Result:
    with _read_dossiers(job, on_batch) as dossiers:
        found = collect(_noting_buckets(dossiers, progress, job.worker), default_calendar(), job.scope,
                        job.hierarchy, job.scope_ids)
        return Result(job.worker, dossiers.stats, evidence=found)


def _noting_buckets(dossiers: DossierPass, progress: Progress, worker: int) -> Iterator[Sequence[ParsedEvent]]:
    """The dossiers, noting in ``progress`` how many of the worker's buckets are counted."""
    progress.buckets[2 * worker + 1] = dossiers.bucket_count
    for done, bucket in enumerate(dossiers.by_bucket(), 1):
        yield from bucket
        progress.buckets[2 * worker] = done


BatchHandler = Callable[[int, list[ConsumerRecord[bytes, bytes]]], None]


async def _read(job: Job, on_records: BatchHandler, on_progress: Callable[[int, int], None]) -> None:
    """The job's ranges, batch by batch to ``on_records(partition, records)``, progress noted after each."""

    def on_batch(partition: int, records: list[ConsumerRecord[bytes, bytes]], read: int) -> None:
        on_records(partition, records)
        on_progress(partition, read)

    client = consumer(bootstrap=job.bootstrap)
    await client.start()
    try:
        await read_ranges(client, job.topic, job.ranges, on_batch)
    finally:
        await stop(client)


def _replay_partitions(job: Job, on_batch: Callable[[int, int], None]) -> Result:
    """Transitions or alerts, per partition in offset order, as the live worker's processor emits them."""
    from dossier.processing import PartitionProcessor  # the live worker's own per-partition step

    assert job.out_dir is not None
    calendar = default_calendar()
    stats = ReadStats()
    processors = {r.partition: PartitionProcessor(r.partition, calendar, lambda _: None, sys.maxsize)
                  for r in job.ranges}
    files = {r.partition: job.out_dir / f"{job.output}-{r.partition}.jsonl" for r in job.ranges}
    outs = {p: path.open("wb") for p, path in files.items()}
    try:

        def on_records(partition: int, records: list[ConsumerRecord[bytes, bytes]]) -> None:
            processor = processors[partition]
            for message in records:
                offset, value = message.offset, message.value or b""
                stats.lines += 1
                try:
                    record = decode_record(value)
                except InvalidRecord as invalid:
                    stats.invalid += 1
                    report_invalid(record_number(partition, offset), invalid.violations)
                    continue
                if isinstance(record, ClockTick):
                    stats.ticks += 1
                    processor.on_tick(offset, parse_timestamp(record.at))
                else:
                    processor.on_event(offset, value, record)
            processor.take_dirty()
            out = processor.take_outputs()
            emitted = out.transitions if job.output == "transitions" else out.alerts
            if emitted:
                outs[partition].write(b"".join(orjson.dumps(r) + b"\n" for _, r in emitted))

        asyncio.run(_read(job, on_records, on_batch))
    finally:
        for out in outs.values():
            out.close()
    for processor in processors.values():
        stats.events += processor.counters.events
        stats.duplicates += processor.counters.duplicates
    return Result(job.worker, stats, files=files)


def _worker_main(job: Job, progress: Progress, results: Any) -> None:
    try:
        results.put(("ok", run_job(job, progress)))
    except BaseException:  # the parent reports it and exits non-zero
        results.put(("error", traceback.format_exc()))


class WorkerFailed(RuntimeError):
    pass


def replay(
    jobs: list[Job], progress: Progress, on_tick: Callable[[], None], tick_seconds: float = 0.2
) -> list[Result]:
    """Run the jobs in worker processes (``fork``), calling ``on_tick`` while they run; their results.

    Raises ``WorkerFailed`` with the worker's traceback when one fails.
    """
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [context.Process(target=_worker_main, args=(job, progress, results), daemon=True) for job in jobs]
    for worker in workers:
        worker.start()
    done: list[Result] = []
    try:
        while len(done) < len(workers):
            on_tick()
            try:
                status, value = results.get(timeout=tick_seconds)
            except Exception:  # queue.Empty: nothing finished yet
                if any(w.exitcode not in (None, 0) for w in workers):
                    raise WorkerFailed("a replay worker died") from None
                continue
            if status == "error":
                raise WorkerFailed(value)
            done.append(value)
        on_tick()
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
            worker.join()
    return sorted(done, key=lambda r: r.worker)


def jobs_for(ranges: list[PartitionRange], workers: int, **common: Any) -> list[Job]:
    """Partitions dealt out to ``workers`` (at most one worker per partition), biggest first."""
    order = sorted(range(len(ranges)), key=lambda i: -len(ranges[i]))
    shares: list[list[int]] = [[] for _ in range(max(1, min(workers, len(ranges))))]
    loads = [0] * len(shares)
    for i in order:
        lightest = loads.index(min(loads))
        shares[lightest].append(i)
        loads[lightest] += len(ranges[i])
    jobs = []
    for worker, share in enumerate(shares):
        share.sort()
        jobs.append(Job(ranges=tuple(ranges[i] for i in share), indices=tuple(share), worker=worker, **common))
    return jobs
