"""`motcua produce ...` and `motcua ingest ...`: thin shells over the producers' pure parts."""

from __future__ import annotations

import sys
import time
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dossier import catalog
from producers import kafka
from producers.output import paced, produce, write_lines
from producers.simulator.rates import Rates
from producers.simulator.stream import simulate as simulate_stream
from producers.simulator.stream import tick
from producers.simulator.workclock import day_number, day_start

produce_app = typer.Typer(
    help="Put dossier events on Kafka (topic dossier.events, key = dossier_id).", no_args_is_help=True
)
ingest_app = typer.Typer(help="The HTTP ingest API that one-stop systems push to.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this room's sub-commands to the root `motcua` app."""
    app.add_typer(produce_app, name="produce")
    app.add_typer(ingest_app, name="ingest")


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
def simulate(
    seed: Annotated[int, typer.Option(help="Same seed, same events, byte for byte.")] = 1,
    provinces: Annotated[int, typer.Option(help="Simulate the first N of the 34 provinces by code.")] = 2,
    province_codes: Annotated[str | None, typer.Option(help="Or these provinces, e.g. 01,79.")] = None,
    start: Annotated[str, typer.Option("--from", help="First simulated day (local), YYYY-MM-DD.")] = "2025-07-01",
    end: Annotated[str, typer.Option("--to", help="Day after the last simulated day, YYYY-MM-DD.")] = "2025-07-08",
    rate: Annotated[float, typer.Option(help="Dossiers per working day per 3 million inhabitants.")] = 100.0,
    communes: Annotated[int, typer.Option(help="Commune units simulated per province.")] = 10,
    to_file: Annotated[
        Path | None, typer.Option(help="Write JSON lines here ('-': stdout), not to Kafka.")
    ] = None,
    realtime: Annotated[
        bool, typer.Option(help="Pace events in sped-up real time, not as fast as possible.")
    ] = False,
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

        emissions = simulate_stream(
            seed, codes, first, stop, Rates(dossiers_per_day=rate), communes, tick_every, on_day
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
