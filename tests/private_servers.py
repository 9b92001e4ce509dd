"""Servers of a test's own: a ClickHouse (the stack's 18.16 binary and config) or a one-node Kafka (the
stack's jars and config), each with its own data dir and ports.

A test that stops, kills or pauses a server uses one of these. `make test` runs the other tests at the same
time against the shared stack, and a paused shared broker stalls all of them (a notifier test's HTTP call
timed out in CI while the stall test had the shared broker SIGSTOPped).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from clickhouse_driver import Client

from stack import clickhouse, services
from stack import kafka as stack_kafka
from wire.groups import coordinator_ready


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((services.host(), port))
        except OSError:
            return False
    return True


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM a running server (woken first: a SIGSTOPped one cannot act on it), SIGKILL after 60 s."""
    if proc is None or proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGCONT)
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


class PrivateClickHouse:
    def __init__(self, home: Path) -> None:
        self.home = home
        for _ in range(100):
            offset = random.randrange(2000, 9000)
            ports = (19000 + offset, 18123 + offset, 19009 + offset)
            if all(_free(p) for p in ports):
                break
        self.port = ports[0]
        self.env = {"MOTCUA_HOME": str(home), "MOTCUA_PORT_OFFSET": str(offset)}
        with _environment(self.env):
            clickhouse.render_config()
            self.command = clickhouse.command()
            self.workdir = clickhouse.workdir()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def client_env(self) -> dict[str, str]:
        """What a client process (the sink, `motcua kpi`) needs to reach this server."""
        return {"MOTCUA_CLICKHOUSE_HOST": services.host(), "MOTCUA_CLICKHOUSE_PORT": str(self.port)}

    def settings(self, database: str = "default") -> dict[str, Any]:
        return {"host": services.host(), "port": self.port, "user": "default", "password": "", "database": database}

    def start(self, timeout: float = 60.0) -> None:
        with (self.workdir / "stdout.log").open("ab") as out:
            self.proc = subprocess.Popen(self.command, cwd=self.workdir, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True,
                                         env={**os.environ, **clickhouse.environment()})
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"private ClickHouse did not start; see {self.workdir / 'log'}")
            time.sleep(0.2)

    def answers(self) -> bool:
        client = Client(**self.settings(), connect_timeout=1, send_receive_timeout=3)
        try:
            client.execute("SELECT 1")
            return True
        except Exception:  # refused, reset, timed out: not (yet) answering
            return False
        finally:
            client.disconnect()

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None


class PrivateKafka:
    """One combined broker+controller of the stack's Kafka, in ``home``, on free ports."""

    def __init__(self, home: Path, heap: str = "512m") -> None:
        port, controller = services.free_port(), services.free_port()
        while controller == port:
            controller = services.free_port()
        self.node = services.KafkaNode(name="kafka-private", node_id=1, port=port, controller_port=controller,
                                       workdir=home / "kafka", heap=heap)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{services.host()}:{self.node.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def start(self, timeout: float = 90.0) -> None:
        stack_kafka.prepare([self.node])
        with stack_kafka.stdout_log(self.node).open("ab") as out:
            self.proc = subprocess.Popen(stack_kafka.command(self.node), stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not (stack_kafka.cluster_answers([self.node]) and coordinator_ready(self.bootstrap)):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"private Kafka did not start; see {stack_kafka.server_log(self.node)}")
            time.sleep(0.5)

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None
