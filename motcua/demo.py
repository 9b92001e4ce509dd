"""`motcua demo`: the whole pipeline on the local stack, watched live.

The demo starts (and on Ctrl-C or SIGTERM stops) only what it started: the local stack unless it already
runs, a streams worker, the sink, `motcua screen` (the dashboards in a browser; its URL is printed, its
"now" is the pipeline's event time) and a simulator thread. On a terminal it shows `motcua top`'s live view
under a progress bar of the replay (events/s, the simulated day; ``motcua.replay``);
piped (`motcua demo | tee demo.log`) it prints a plain line per province every ``PLAIN_EVERY`` seconds
(rich's live view writes nothing to a non-terminal until it ends). The simulator replays the history of the days
before the demo day as fast as it can, then the demo day's working hours at a speed-up (300: a
10-hour working day in 2 minutes), with clock ticks so that event time advances on every partition.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import typer
from clickhouse_driver import Client

from dashboards.cli import SCREEN_PORT
from dossier.calendar import day_number, day_start
from motcua.replay import Replay, ReplayBar
from notify.demo import DemoPaging
from producers import kafka
from producers.cli import choose_provinces
from producers.output import paced, produce
from producers.simulator.stream import Emission, simulate
from sinks.cli import run_migrations
from sinks.top import TopView, run_top, snapshot
from stack import control, services
from stack.procs import StackError
from wire import topics
from wire.settings import Settings

MOTCUA = str(Path(sys.executable).parent / "motcua")
LIVE_FROM = 6 * 3600 + 55 * 60  # local time of day from which the demo day is paced (just before 07:00)
TICK_EVERY = 60  # simulated seconds between clock ticks
PLAIN_EVERY = 5.0  # seconds between the plain-text lines of a piped demo


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path


def _start(name: str, args: list[str], env: dict[str, str], logs: Path) -> Child:
    """A child in its own session: the terminal's Ctrl-C reaches the demo only, which stops it in order."""
    log = logs / f"{name}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([MOTCUA, *args], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **env}, start_new_session=True)
    return Child(name, proc, log)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop(child: Child, timeout: float = 30.0) -> str:
    if child.proc.poll() is None:
        child.proc.send_signal(signal.SIGTERM)
        try:
            child.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            child.proc.kill()
            child.proc.wait(10)
    return f"{child.name}: stopped (exit {child.proc.returncode}; log {child.log})"


def _screen_port() -> int:
    """``motcua screen``'s own port (3300 + MOTCUA_PORT_OFFSET) when free, else any free one."""
    wanted = Settings().port(None, SCREEN_PORT)
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds: TIME_WAIT is no obstacle
        try:
            probe.bind(("127.0.0.1", wanted))
        except OSError:
            return services.free_port()
    return wanted


def plain_lines(view: TopView) -> list[str]:
    """What the live view shows, as plain text lines (a piped demo)."""
    head = (f"{time.strftime('%H:%M:%S')} events {view.events:,}, open overdue {view.overdue:,}, due soon "
            f"{view.due_soon:,}, DLQ {view.refused:,}")
    if view.error:
        return [f"{head}; {view.error}"]
    if view.day is None:
        return [f"{head}; no KPI rows yet"]
    lines = [f"{head}; day {view.day}:"]
    for r in view.provinces:
        on_time = "-" if r["on_time_rate"] is None else f"{r['on_time_rate']:.1%}"
        lines.append(f"  province {r['scope_id']}: to process {r['to_process']:,}, received {r['received']:,}, "
                     f"finished {r['finished']:,}, on time {on_time}, open overdue {r['open_overdue']:,}, "
                     f"due soon {r['open_due_soon']:,}, event time {r['watermark']}")
    return lines


def _run_plain(settings: dict[str, Any], health_url: str, replay: Replay) -> None:
    """Until interrupted, print the replay's progress and the view as plain lines every ``PLAIN_EVERY`` seconds."""
    client = Client(**settings, connect_timeout=2, send_receive_timeout=10)
    try:
        while True:
            try:
                view = snapshot(client, health_url=health_url)
            except Exception as error:  # ClickHouse restarting, a table not yet there: say so, retry
                view = TopView(error=f"ClickHouse: {str(error).splitlines()[0][:120]}")
                client.disconnect()
            print("\n".join([replay.line(), *plain_lines(view)]), flush=True)
            time.sleep(PLAIN_EVERY)
    finally:
        client.disconnect()


def _say(text: str) -> None:
    """Write to stderr; a reader that went away (``| tee`` interrupted too) must not stop the cleanup."""
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except OSError:
        pass


def _until(stop: threading.Event, emissions: Iterable[Emission]) -> Iterator[Emission]:
    for emission in emissions:
        if stop.is_set():
            return
        yield emission


def _replay(day: date, history: int, health_url: str) -> Replay:
    start = int(day_start(day_number(day)))
    return Replay(first=int(day_start(day_number(day - timedelta(days=history)))), live=start + LIVE_FROM,
                  health_url=health_url)


def _simulator(stop: threading.Event, topic: str, seed: int, provinces: list[str], day: date, history: int,
               speedup: float, report: BinaryIO, replay: Replay) -> None:
    emissions = simulate(seed, provinces, day - timedelta(days=history), day + timedelta(days=1),
                         tick_every=TICK_EVERY)
    live = paced(_until(stop, emissions), replay.live, speedup)
    try:
        with kafka.EventProducer(topic, **kafka.LOW_LATENCY) as producer:
            sent = produce(replay.counted(_until(stop, live)), producer)
        report.write(f"simulator: {sent:,} events sent to {topic}\n".encode())
    except Exception as error:  # shown after the live view ends; the demo itself keeps running
        report.write(f"simulator failed: {error}\n".encode())


def demo(
    provinces: Annotated[int, typer.Option(help="Simulate the first N of the 34 provinces.")] = 2,
    day: Annotated[str, typer.Option(help="The simulated day shown live (local date).")] = "2025-07-08",
    history: Annotated[int, typer.Option(help="Days before it, replayed at full speed first.")] = 7,
    speedup: Annotated[float, typer.Option(help="Simulated seconds per wall second on the live day.")] = 300.0,
    seed: Annotated[int, typer.Option(help="Simulator seed (same seed, same events).")] = 1,
    topic_prefix: Annotated[str, typer.Option(help="Run on <prefix>dossier.* (a demo of one's own).")] = "",
    database: Annotated[str | None, typer.Option(help="ClickHouse database (default: the stack's).")] = None,
    keep_stack: Annotated[bool, typer.Option(help="Leave the stack running if the demo started it.")] = False,
) -> None:
    """Run the pipeline on the local stack (migrations, streams worker, sink, simulator) and watch it live in
    `motcua top`; Ctrl-C stops everything the demo started."""
    try:
        first_day = date.fromisoformat(day)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    codes = choose_provinces(provinces, None)
    # Ctrl-C and SIGTERM both stop the demo through its cleanup (a shell's background job ignores SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    say = _say
    started_stack = not all(s.answering for s in control.status() if s.name in ("clickhouse", "kafka"))
    if started_stack:
        say("demo: starting the local stack (Kafka, ClickHouse)\n")
        try:
            control.up(log=lambda line: say(f"  {line}\n"))
        except StackError as error:
            raise typer.Exit(f"demo: the stack did not start: {error}") from None
    target = database or str(Settings().clickhouse_settings()["database"])
    logs = services.home() / "demo"
    logs.mkdir(parents=True, exist_ok=True)
    children: list[Child] = []
    stop = threading.Event()
    notes = (logs / "simulator.log").open("wb")
    health_port = services.free_port()
    replay = _replay(first_day, history, f"http://127.0.0.1:{health_port}/health")
    paging: DemoPaging | None = None
    simulator = threading.Thread(
        target=_simulator,
        args=(stop, f"{topic_prefix}{kafka.TOPIC}", seed, codes, first_day, history, speedup, notes, replay),
        daemon=True,
    )
    try:
        if topic_prefix:
            topics.ensure_topics(Settings().bootstrap_servers(), 1, topics.Topics.with_prefix(topic_prefix).specs())
        run_migrations(target, echo=False)
        streams_port = services.free_port()
        streams_data = logs / f"{topic_prefix}streams-{streams_port}"
        streams_data.mkdir(parents=True, exist_ok=True)  # faust creates only the last level of its data dir
        streams_env = {"MOTCUA_STREAMS_TOPIC_PREFIX": topic_prefix, "MOTCUA_STREAMS_WEB_PORT": str(streams_port),
                       "MOTCUA_STREAMS_APP_ID": f"{topic_prefix}motcua-streams",
                       "MOTCUA_STREAMS_DATADIR": str(streams_data)}
        children.append(_start("streams", ["streams", "worker"], streams_env, logs))
        children.append(_start("sink", ["sink", "--topic-prefix", topic_prefix, "--group",
                                        f"{topic_prefix}motcua-sink", "--database", target, "--health-port",
                                        str(health_port), "--batch-seconds", "0.5"], {}, logs))
        screen_port = _screen_port()
        children.append(_start("screen", ["screen", "--port", str(screen_port), "--now", "pipeline", "--database",
                                          target], {}, logs))
        paging = DemoPaging(logs, codes)  # officials paged through a local mailbox, on the live day only
        children.append(_start("notify", paging.args(topic_prefix, target, f"{first_day}T06:55:00+07:00"),
                               paging.env(), logs))
        simulator.start()
        say(f"demo: the screens (Grafana's dashboards, drawn locally): http://127.0.0.1:{screen_port}/d/motcua-province\n")
        say(f"demo: provinces {', '.join(codes)}; {history} days of history, then {first_day} at x{speedup:g}; "
            f"logs in {logs}\n")
        say(f"demo: streams worker pid {children[0].proc.pid}, sink pid {children[1].proc.pid}\n")
        say(f"demo: pages to officials: motcua alerts tail --mailbox {paging.maildir}\n")
        settings = {**Settings().clickhouse_settings(), "database": target}
        if sys.stdout.isatty():
            run_top(settings, health_url=f"http://127.0.0.1:{health_port}/health", above=ReplayBar(replay))
        else:
            _run_plain(settings, f"http://127.0.0.1:{health_port}/health", replay)
    except KeyboardInterrupt:  # Ctrl-C (or SIGTERM): stop all
        pass
    except BrokenPipeError:  # the pipe's reader went away (Ctrl-C reached `tee` too): stop all the same,
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # with nothing left to write into it
    finally:
        stop.set()
        if simulator.is_alive():
            simulator.join(30)
        notes.close()
        for child in reversed(children):  # the sink before the streams: it drains what they wrote
            if child.proc.poll() is not None and child.proc.returncode not in (0, -signal.SIGTERM):
                say(f"{child.name} had exited early with {child.proc.returncode}; its log: {child.log}\n")
            say(_stop(child) + "\n")  # say never raises: a closed pipe does not leave the streams running
        if paging is not None:
            paging.stop()
        say((logs / "simulator.log").read_text())
        if started_stack and not keep_stack:
            for line in control.down():
                say(f"stack: {line}\n")


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the root ``motcua`` app."""
    app.command("demo")(demo)
