"""`motcua produce ...` and `motcua ingest ...`: thin shells over the producers' pure parts."""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Annotated, BinaryIO, ParamSpec

import orjson
import typer
from kafka.errors import KafkaError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dossier import catalog
from producers import kafka
from producers.edge import Bounds
from producers.importer import FORMATS, Edge, Rejected, csv_file_items, event_file_items, infer_format, sync_file_items
from producers.ingest.app import Limits, make_app
from producers.ingest.openapi import openapi_document
from producers.output import paced, produce, write_lines
from producers.pseudonym import KeyConfigError, Pseudonymiser
from producers.simulator.background import simulate_in_background
from producers.simulator.rates import Rates
from producers.simulator.stream import Emission, tick
from producers.simulator.stream import simulate as simulate_stream
from producers.simulator.workclock import day_number, day_start
from producers.sources import Source, TokenRegistry, hash_token, load_sources, new_token

P = ParamSpec("P")
DLQ_TOPIC = "dossier.dlq"
produce_app = typer.Typer(
    help="Put dossier events on Kafka (topic dossier.events, key = dossier_id).", no_args_is_help=True
)
ingest_app = typer.Typer(help="The HTTP ingest API that one-stop systems push to.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this room's sub-commands to the root `motcua` app."""
    app.add_typer(produce_app, name="produce")
    app.add_typer(ingest_app, name="ingest")


def _kafka_errors_exit(command: Callable[P, None]) -> Callable[P, None]:
    """Delivery failures end the command with status 1 and the reason on stderr (never swallowed)."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            command(*args, **kwargs)
        except (kafka.DeliveryError, KafkaError) as error:
            typer.echo(f"error: Kafka did not take the records: {error}", err=True)
            raise typer.Exit(1) from None

    return run


def choose_provinces(count: int, codes: str | None) -> list[str]:
    """The provinces named by `codes` (comma-separated), else the first `count` of the 34 by code."""
    known = [p.code for p in catalog.provinces()]
    if codes:
        chosen = [c.strip() for c in codes.split(",") if c.strip()]
        unknown = [c for c in chosen if c not in known]
        if unknown or not chosen:
            raise typer.BadParameter(f"unknown province code(s) {unknown}; codes are {', '.join(known)}")
        return chosen
    if not 1 <= count <= len(known):
        raise typer.BadParameter(f"--provinces must be between 1 and {len(known)}")
    return known[:count]


@produce_app.command("simulate")
@_kafka_errors_exit
def simulate(
    seed: Annotated[int, typer.Option(help="Same seed, same events, byte for byte.")] = 1,
    provinces: Annotated[int, typer.Option(help="Simulate the first N of the 34 provinces by code.")] = 2,
    province_codes: Annotated[str | None, typer.Option(help="Or these provinces, e.g. 01,79.")] = None,
    start: Annotated[str, typer.Option("--from", help="First simulated day (local), YYYY-MM-DD.")] = "2025-07-01",
    end: Annotated[str, typer.Option("--to", help="Day after the last simulated day, YYYY-MM-DD.")] = "2025-07-08",
    rate: Annotated[float, typer.Option(help="Dossiers per working day per 3 million inhabitants.")] = 100.0,
    communes: Annotated[int, typer.Option(help="Commune units simulated per province.")] = 10,
    to_file: Annotated[Path | None, typer.Option(help="Write JSON lines here ('-': stdout), not to Kafka.")] = None,
    realtime: Annotated[bool, typer.Option(help="Pace events in sped-up real time, not as fast as possible.")] = False,
    speedup: Annotated[float, typer.Option(help="Simulated seconds per wall second in --realtime mode.")] = 120.0,
    tick_every: Annotated[int, typer.Option(help="Interleave a clock tick every N simulated seconds (0: none).")] = 0,
    topic: Annotated[str, typer.Option()] = kafka.TOPIC,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
) -> None:
    """Simulate one-stop centres: arrivals, processing, supplements, payments, ratings, late events."""
    try:
        first, stop = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    if stop <= first:
        raise typer.BadParameter("--to must be after --from")
    codes = choose_provinces(provinces, province_codes)
    days = (stop - first).days
    with ExitStack() as stack:
        bar = None
        if progress:
            bar = stack.enter_context(
                Progress(
                    TextColumn("[bold]simulate[/] {task.fields[day]}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn("days · {task.fields[events]:,} events"),
                    TimeElapsedColumn(),
                    console=Console(stderr=True),
                )
            )
            task = bar.add_task("simulate", total=days, day=str(first), events=0)

        def on_day(d: date, emitted: int) -> None:
            if bar is not None:
                bar.update(task, advance=1, day=str(d), events=emitted)

        params = {
            "seed": seed,
            "provinces": codes,
            "start": first,
            "end": stop,
            "rates": Rates(dossiers_per_day=rate),
            "communes": communes,
            "tick_every": tick_every,
        }
        # To Kafka, generation runs in a child process: sending is the bottleneck (bench_producers.py).
        emissions = (
            simulate_stream(**params, on_day=on_day)
            if to_file is not None
            else simulate_in_background(on_day=on_day, **params)
        )
        if realtime:
            emissions = paced(emissions, day_start(day_number(first)), speedup)
        started = time.perf_counter()
        if to_file is not None:
            out: BinaryIO = sys.stdout.buffer if str(to_file) == "-" else stack.enter_context(open(to_file, "wb"))
            n = write_lines(emissions, out)
            what = f"{n} lines to {to_file}"
        else:
            producer = stack.enter_context(kafka.EventProducer(topic, **({} if not realtime else kafka.LOW_LATENCY)))
            n = produce(emissions, producer)
            what = f"{n} events to {topic}"
    elapsed = time.perf_counter() - started
    typer.echo(f"wrote {what} in {elapsed:.1f} s ({n / max(elapsed, 1e-9):,.0f}/s)", err=True)


@produce_app.command("ticks")
@_kafka_errors_exit
def ticks(
    interval: Annotated[float, typer.Option(help="Seconds between ticks.")] = 1.0,
    count: Annotated[int, typer.Option(help="Rounds of ticks to write (0: until interrupted).")] = 0,
    topic: Annotated[str, typer.Option()] = kafka.TOPIC,
) -> None:
    """Write a clock tick (event time = now) into every partition of the topic at a fixed interval."""
    with kafka.EventProducer(topic, **kafka.LOW_LATENCY) as producer:
        rounds = 0
        next_at = time.monotonic()
        while count == 0 or rounds < count:
            producer.broadcast(tick(int(time.time())))
            producer.flush()
            rounds += 1
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))
    typer.echo(f"wrote {rounds} round(s) of ticks to {topic}", err=True)


def _source(sources: Path | None, source_id: str | None, province: str | None, default_unit: str | None) -> Source:
    """The sending system: an entry of a sources file, or one described on the command line."""
    if sources is not None:
        known = load_sources(sources)
        if source_id not in known:
            raise typer.BadParameter(f"--source must be one of {sorted(known)}")
        return known[source_id]
    if not (source_id and province):
        raise typer.BadParameter("give --sources FILE --source ID, or --source ID --province CODE [--default-unit]")
    return Source(id=source_id, province=province, default_unit=default_unit)


def _pseudonymiser() -> Pseudonymiser:
    try:
        return Pseudonymiser.from_env()
    except KeyConfigError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None


EarliestOption = Annotated[
    str, typer.Option(envvar="MOTCUA_EDGE_EARLIEST", help="Events that occurred before this are refused (RFC 3339).")
]
AheadOption = Annotated[
    float,
    typer.Option(envvar="MOTCUA_EDGE_MAX_AHEAD_S", help="Refuse events more than this many s ahead of now."),
]
DueOption = Annotated[
    float,
    typer.Option(
        envvar="MOTCUA_EDGE_MAX_DUE_S", help="A due_at more than this many seconds after occurred_at is refused."
    ),
]
DEFAULT_BOUNDS = Bounds()


def _bounds(earliest: str, max_ahead_s: float, max_due_s: float) -> Bounds:
    try:
        return Bounds.parse(earliest, max_ahead_s, max_due_s)
    except ValueError as error:
        raise typer.BadParameter(f"--earliest: {error}") from None


@produce_app.command("import")
@_kafka_errors_exit
def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The file to import.")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="events, sync or csv (default: guessed from the file).")
    ] = None,
    sources: Annotated[Path | None, typer.Option(help="Sources file (JSON) holding --source.")] = None,
    source: Annotated[
        str | None, typer.Option(help="Id of the sending system (sync, csv; events: binds the file to its province).")
    ] = None,
    province: Annotated[str | None, typer.Option(help="Its province code, without --sources.")] = None,
    default_unit: Annotated[str | None, typer.Option(help="Unit code when DonViXuLy is not mapped.")] = None,
    to_file: Annotated[Path | None, typer.Option(help="Write the events as JSON lines here, not to Kafka.")] = None,
    topic: Annotated[str, typer.Option()] = kafka.TOPIC,
    dlq_topic: Annotated[str, typer.Option(help="Refused lines go here, scrubbed (not with --to-file).")] = DLQ_TOPIC,
    earliest: EarliestOption = "2015-01-01T00:00:00+07:00",
    max_ahead: AheadOption = DEFAULT_BOUNDS.max_ahead_s,
    max_due: DueOption = DEFAULT_BOUNDS.max_due_after_s,
) -> None:
    """Produce a file's events to Kafka; bad lines are reported on stderr (line, reason), sent to the DLQ, skipped."""
    if fmt is None:
        with file.open("rb") as f:
            fmt = infer_format(file.name, f)
    if fmt not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}")
    bounds = _bounds(earliest, max_ahead, max_due)
    pseudonym = _pseudonymiser()
    if fmt == "events":
        bound = _source(sources, source, province, default_unit) if sources or source else None
        edge = Edge(pseudonym, bounds, time.time(), bound.grant if bound else None)
        items = event_file_items(file.open("rb"), edge)
    else:
        sender = _source(sources, source, province, default_unit)
        edge = Edge(pseudonym, bounds, time.time(), sender.grant)
        if fmt == "sync":
            items = sync_file_items(file.open("rb"), sender, edge)
        else:
            items = csv_file_items(file.read_text(encoding="utf-8"), sender, edge)
    rejected = 0

    def good(producer: kafka.EventProducer | None) -> Iterator[Emission]:
        nonlocal rejected
        for item in items:
            if isinstance(item, Rejected):
                rejected += 1
                typer.echo(f"{file}: {item}", err=True)
                if producer is not None:
                    copy = item.refused.copy
                    headers = item.refused.headers("importer", source)
                    producer.send_headed(dlq_topic, copy.key, copy.value, headers, tracked=True)
            else:
                yield Emission(0, item[0], item[1])

    started = time.perf_counter()
    if to_file is not None:
        with open(to_file, "wb") as out:
            n = write_lines(good(None), out)
    else:
        with kafka.EventProducer(topic) as producer:
            n = produce(good(producer), producer)
    elapsed = time.perf_counter() - started
    typer.echo(f"imported {n} events ({rejected} line(s) rejected) in {elapsed:.1f} s", err=True)
    if rejected:
        raise typer.Exit(1)


@ingest_app.command("serve")
def serve(
    sources: Annotated[Path, typer.Option(envvar="MOTCUA_INGEST_SOURCES", help="Sources file (tokens hashed).")],
    host: Annotated[str, typer.Option(envvar="MOTCUA_INGEST_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="MOTCUA_INGEST_PORT")] = 8088,
    topic: Annotated[str, typer.Option()] = kafka.TOPIC,
    max_body_bytes: Annotated[int, typer.Option(help="Larger bodies get 413.")] = Limits().max_body_bytes,
    max_pending: Annotated[
        int, typer.Option(help="Records awaiting Kafka beyond which requests get 429.")
    ] = Limits().max_pending_events,
    source_rate: Annotated[
        float, typer.Option(envvar="MOTCUA_INGEST_SOURCE_RATE", help="Records a second per source; beyond: 429.")
    ] = Limits().source_rate,
    source_burst: Annotated[float, typer.Option(help="Burst of records per source.")] = Limits().source_burst,
    dlq_topic: Annotated[str, typer.Option(help="Refused records go here, scrubbed.")] = DLQ_TOPIC,
    earliest: EarliestOption = "2015-01-01T00:00:00+07:00",
    max_ahead: AheadOption = DEFAULT_BOUNDS.max_ahead_s,
    max_due: DueOption = DEFAULT_BOUNDS.max_due_after_s,
) -> None:
    """Serve the ingest API (POST /v1/events, POST /v1/sync, GET /openapi.json, GET /healthz)."""
    from aiohttp import web

    pseudonym = _pseudonymiser()
    registry = TokenRegistry(load_sources(sources))
    limits = Limits(
        max_body_bytes=max_body_bytes,
        max_pending_events=max_pending,
        source_rate=source_rate,
        source_burst=source_burst,
        bounds=_bounds(earliest, max_ahead, max_due),
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    app = make_app(lambda: kafka.EventProducer(topic, **kafka.INGEST), registry, pseudonym, limits, dlq_topic)
    web.run_app(app, host=host, port=port, access_log=None, print=None)


@ingest_app.command("token")
def token(
    sources: Annotated[Path, typer.Option(help="Sources file to create or update.")],
    source: Annotated[str, typer.Option(help="Id of the sending system.")],
    province: Annotated[str, typer.Option(help="The only province it may send for.")],
    default_unit: Annotated[str | None, typer.Option(help="Unit code when DonViXuLy is not mapped.")] = None,
) -> None:
    """Issue a new API token for a source: prints it once, stores only its SHA-256."""
    data = orjson.loads(sources.read_bytes()) if sources.exists() else {"sources": []}
    secret = new_token()
    entry = next((s for s in data["sources"] if s.get("id") == source), None)
    if entry is None:
        entry = {"id": source}
        data["sources"].append(entry)
    entry.update(province=province, token_sha256=hash_token(secret))
    if default_unit:
        entry["default_unit"] = default_unit
    sources.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
    typer.echo(secret)


@ingest_app.command("openapi")
def openapi() -> None:
    """Print the OpenAPI document (docs/openapi.json is this output)."""
    sys.stdout.buffer.write(orjson.dumps(openapi_document(), option=orjson.OPT_INDENT_2) + b"\n")
