"""Where the local servers live: their data, logs, pid files, ports and JVM settings (the local runner's own).

What clients also need (MOTCUA_HOME, MOTCUA_HOST, MOTCUA_PORT_OFFSET, the client ports, the Kafka bootstrap,
the ClickHouse connection) is read from ``wire.settings``, at call time like everything here. The runner's
own variables:

| variable | default | meaning |
|---|---|---|
| MOTCUA_KAFKA_CONTROLLER_PORT | 19093 | single-node KRaft controller |
| MOTCUA_KAFKA_CLUSTER_PORT | 19100 | 3-broker cluster: brokers on +0..+2 (``wire.settings``), controllers on +10..+12 |
| MOTCUA_KAFKA_HEAP | 1g (512m per node of the cluster) | a broker's JVM heap, fixed (-Xms = -Xmx, pre-touched) |
| MOTCUA_CLICKHOUSE_INTERSERVER_PORT | 19009 | replication (unused, moved off 9009) |
| MOTCUA_JARS | ``$MOTCUA_HOME/jars`` | the Kafka classpath resolved by stack/pom.xml |
"""

from __future__ import annotations

import os
import random
import socket
from dataclasses import dataclass
from pathlib import Path

from wire.settings import Settings

STACK_DIR = Path(__file__).resolve().parent
CONF_DIR = STACK_DIR / "conf"

DEFAULT_KAFKA_CONTROLLER_PORT = 19093
DEFAULT_CLICKHOUSE_INTERSERVER_PORT = 19009


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name}={raw!r} is not an integer") from exc


def _port(name: str, default: int) -> int:
    """An explicit MOTCUA_*_PORT wins; otherwise the default moved by MOTCUA_PORT_OFFSET."""
    return _env_int(name, default + Settings().port_offset)


def home() -> Path:
    """Root of everything the stack writes (git-ignored ``var/`` by default)."""
    return Settings().home_dir


def host() -> str:
    return Settings().host


def jars_dir() -> Path:
    return Path(os.environ.get("MOTCUA_JARS") or home() / "jars").resolve()


def run_dir() -> Path:
    """Pid files of the processes `motcua stack up` started."""
    return home() / "run"


@dataclass(frozen=True)
class KafkaNode:
    """One combined broker+controller JVM."""

    name: str  # also the pid-file and log name
    node_id: int
    port: int
    controller_port: int
    workdir: Path
    heap: str

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def log_dir(self) -> Path:
        return self.workdir / "logs"


def kafka_nodes(brokers: int = 1) -> list[KafkaNode]:
    """The nodes of the single-node stack (brokers=1) or of the 3-broker KRaft cluster (brokers=3)."""
    ports = Settings().kafka_ports(brokers)
    if brokers == 1:
        return [
            KafkaNode(
                name="kafka",
                node_id=1,
                port=ports[0],
                controller_port=_port("MOTCUA_KAFKA_CONTROLLER_PORT", DEFAULT_KAFKA_CONTROLLER_PORT),
                workdir=home() / "kafka",
                heap=os.environ.get("MOTCUA_KAFKA_HEAP") or "1g",
            )
        ]
    return [
        KafkaNode(
            name=f"kafka-cluster-{i + 1}",
            node_id=i + 1,
            port=port,
            controller_port=port + 10,
            workdir=home() / "kafka-cluster" / f"node-{i + 1}",
            heap=os.environ.get("MOTCUA_KAFKA_HEAP") or "512m",
        )
        for i, port in enumerate(ports)
    ]


@dataclass(frozen=True)
class ClickHousePorts:
    native: int
    http: int
    interserver: int


def clickhouse_ports() -> ClickHousePorts:
    shared = Settings()
    return ClickHousePorts(
        native=shared.clickhouse_native_port,
        http=shared.clickhouse_http,
        interserver=_port("MOTCUA_CLICKHOUSE_INTERSERVER_PORT", DEFAULT_CLICKHOUSE_INTERSERVER_PORT),
    )


def clickhouse_workdir() -> Path:
    return home() / "clickhouse"


FREE_PORTS = range(23_000, 32_000)
"""Where ``free_port`` looks: above the stack's ports (even moved by MOTCUA_PORT_OFFSET=3000), below the
kernel's ephemeral range (32768 on), from which every outgoing connection takes its local port."""


def free_port() -> int:
    """A local TCP port nothing uses now (for a second sink, worker or ingest beside the defaults).

    Not an ephemeral port: a worker restarted on the port it had (a SIGKILL test) found it taken by some
    client's outgoing connection in between, on a busy machine."""
    for port in random.sample(FREE_PORTS, 200):
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))  # faust's web server binds every address
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free TCP port in {FREE_PORTS.start}-{FREE_PORTS.stop - 1}")
