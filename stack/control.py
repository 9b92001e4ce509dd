"""`up`, `down`, `status` and `logs` of the local stack, as functions returning what they did."""

from __future__ import annotations

import fcntl
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from stack import clickhouse, kafka, services
from stack.procs import StackError, check_ports_free, pid_file, read_pid_file, start, stop, tail, wait_until
from wire import topics
from wire.groups import coordinator_ready
from wire.settings import CLUSTER_SIZE, Settings

KAFKA_START_TIMEOUT = 180.0
CLICKHOUSE_START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Service:
    """One process of the stack: its ports, how to start it, and where it logs."""

    name: str
    kind: str  # "kafka" | "clickhouse"
    ports: dict[int, str]
    logs: tuple[Path, ...]  # the main log first
    cwd: Path
    command: Callable[[], list[str]]
    env: dict[str, str] = field(default_factory=dict)  # on top of the environment of `motcua stack up`


def clickhouse_service() -> Service:
    ports = services.clickhouse_ports()
    return Service(
        name=clickhouse.NAME,
        kind="clickhouse",
        ports={ports.native: "ClickHouse native", ports.http: "ClickHouse HTTP",
               ports.interserver: "ClickHouse interserver"},
        logs=(clickhouse.server_log(), clickhouse.error_log(), clickhouse.stdout_log()),
        cwd=clickhouse.workdir(),
        command=clickhouse.command,
        env=clickhouse.environment(),
    )


def kafka_services(brokers: int) -> list[Service]:
    return [
        Service(
            name=node.name,
            kind="kafka",
            ports={node.port: "Kafka broker", node.controller_port: "Kafka controller"},
            logs=(kafka.server_log(node), kafka.stdout_log(node)),
            cwd=node.workdir,
            command=lambda node=node: kafka.command(node),
        )
        for node in services.kafka_nodes(brokers)
    ]


def all_services() -> list[Service]:
    """Every process `up` can start: ClickHouse, the single broker and the 3-broker cluster."""
    return [clickhouse_service(), *kafka_services(1), *kafka_services(CLUSTER_SIZE)]


@contextmanager
def _locked(timeout: float = 300.0) -> Iterator[None]:
    """One `up`/`down` at a time per MOTCUA_HOME (make test and a developer's shell may race)."""
    services.run_dir().mkdir(parents=True, exist_ok=True)
    with open(services.run_dir() / "stack.lock", "w") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StackError("another `motcua stack` command holds the lock; try again") from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _death_note(svc: Service) -> Callable[[], str | None]:
    """For wait_until: None while the process lives, else the tail of its logs."""

    def note() -> str | None:
        running, _ = read_pid_file(pid_file(services.run_dir(), svc.name))
        if running is not None:
            return None
        logs = "\n".join(f"--- {p}\n{tail(p, 25)}" for p in svc.logs if p.exists())
        return f"the process exited.\n{logs}"

    return note


def up(brokers: int = 1, log: Callable[[str], None] = print) -> list[str]:
    """Start what is not running, wait until all answer, create the pipeline topics. Idempotent."""
    wanted = [clickhouse_service(), *kafka_services(brokers)]
    nodes = services.kafka_nodes(brokers)
    with _locked():
        to_start: list[Service] = []
        for svc in wanted:
            running, stale = read_pid_file(pid_file(services.run_dir(), svc.name))
            if running is not None:
                log(f"{svc.name}: already running (pid {running.pid})")
                continue
            if stale:
                log(f"{svc.name}: removing stale pid file ({stale})")
                pid_file(services.run_dir(), svc.name).unlink(missing_ok=True)
            to_start.append(svc)
        check_ports_free(services.host(), {p: f"{s.name}: {what}" for s in to_start for p, what in s.ports.items()})
        if any(s.kind == "kafka" for s in to_start):
            if not kafka.jars_ready():
                log(f"resolving Kafka jars with Maven into {services.jars_dir()} ...")
            kafka.prepare(nodes)
        if any(s.kind == "clickhouse" for s in to_start):
            clickhouse.render_config()
        for svc in to_start:
            proc = start(svc.name, svc.command(), services.run_dir(), svc.logs[-1], svc.cwd, svc.env)
            log(f"{svc.name}: started (pid {proc.pid})")
        ch = clickhouse_service()
        wait_until("ClickHouse", clickhouse.answers, CLICKHOUSE_START_TIMEOUT, _death_note(ch),
                   hint=f"; see {clickhouse.error_log()} (`motcua stack logs clickhouse`)")
        kafka_svcs = kafka_services(brokers)

        def any_died() -> str | None:
            return next((note for s in kafka_svcs if (note := _death_note(s)())), None)

        wait_until("Kafka", lambda: kafka.cluster_answers(nodes), KAFKA_START_TIMEOUT, any_died,
                   hint=f"; see `motcua stack logs {nodes[0].name}`")
        bootstrap = Settings().bootstrap_servers(brokers)
        for change in topics.ensure_topics(bootstrap, replication=min(3, brokers)):
            log(f"topics: {change}")
        wait_until("Kafka's group coordinator", lambda: coordinator_ready(bootstrap), KAFKA_START_TIMEOUT, any_died,
                   hint=f"; see `motcua stack logs {nodes[0].name}`")
    return [
        f"Kafka {kafka.kafka_version()} ({brokers} broker{'s' if brokers > 1 else ''}): "
        f"bootstrap servers {Settings().bootstrap_servers(brokers)}",
        f"ClickHouse {clickhouse.version()}: native {services.host()}:{services.clickhouse_ports().native}, "
        f"HTTP {Settings().clickhouse_http_url()}",
        f"data and logs: {services.home()}",
    ]


def down(wipe: bool = False) -> list[str]:
    """Stop every process a pid file names (all at once: a KRaft quorum stopped one node at a time stalls)."""
    with _locked():
        svcs = all_services()
        with ThreadPoolExecutor(max_workers=len(svcs)) as pool:
            lines = list(pool.map(lambda s: stop(s.name, services.run_dir()), svcs))
        if wipe:
            for path in (services.clickhouse_workdir(), services.home() / "kafka", services.home() / "kafka-cluster"):
                if path.exists():
                    shutil.rmtree(path)
                    lines.append(f"wiped {path}")
    return lines


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: str  # "running" | "stopped" | "stale pid file"
    pid: int | None
    answering: bool
    ports: dict[int, str]
    note: str = ""


def status() -> list[ServiceStatus]:
    rows = []
    for svc in all_services():
        running, stale = read_pid_file(pid_file(services.run_dir(), svc.name))
        if running is None:
            rows.append(ServiceStatus(svc.name, "stale pid file" if stale else "stopped", None, False, svc.ports,
                                      stale or ""))
            continue
        if svc.kind == "clickhouse":
            answering = clickhouse.answers()
        else:
            node = next(n for n in services.kafka_nodes(1) + services.kafka_nodes(3) if n.name == svc.name)
            answering = kafka.cluster_answers([node], timeout_ms=3000)
        rows.append(ServiceStatus(svc.name, "running", running.pid, answering, svc.ports))
    return rows


def log_tail(name: str, lines: int = 50) -> tuple[Path, str]:
    """The tail of a service's main log (or its captured stdout when the main log does not exist yet)."""
    svc = next((s for s in all_services() if s.name == name), None)
    if svc is None:
        names = ", ".join(s.name for s in all_services())
        raise StackError(f"unknown service {name!r}; one of: {names}")
    for path in svc.logs:
        if path.exists():
            return path, tail(path, lines)
    raise StackError(f"{name} has no log yet (looked at {', '.join(map(str, svc.logs))})")
