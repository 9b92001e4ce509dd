"""Where the local services live and listen: the one place other code asks.

Everything is read from environment variables at call time, so a test or a second checkout can move
the whole stack (``MOTCUA_PORT_OFFSET=1000``) or one port (``MOTCUA_KAFKA_PORT=29092``) without code.

| variable | default | meaning |
|---|---|---|
| MOTCUA_HOME | ``<repo>/var`` | data, logs, pid files and the Kafka jars |
| MOTCUA_HOST | 127.0.0.1 | the address every service binds and advertises |
| MOTCUA_PORT_OFFSET | 0 | added to every default port below |
| MOTCUA_KAFKA_PORT | 19092 | single-node broker |
| MOTCUA_KAFKA_CONTROLLER_PORT | 19093 | single-node KRaft controller |
| MOTCUA_KAFKA_CLUSTER_PORT | 19100 | 3-broker cluster: brokers on +0..+2, controllers on +10..+12 |
| MOTCUA_KAFKA_BROKERS | 1 | which Kafka ``bootstrap_servers()`` points at by default: 1 or 3 |
| MOTCUA_KAFKA_HEAP | 1g (512m per node of the cluster) | JVM -Xmx |
| MOTCUA_CLICKHOUSE_PORT | 19000 | native protocol |
| MOTCUA_CLICKHOUSE_HTTP_PORT | 18123 | HTTP |
| MOTCUA_CLICKHOUSE_INTERSERVER_PORT | 19009 | replication (unused, moved off 9009) |
| MOTCUA_JARS | ``$MOTCUA_HOME/jars`` | the Kafka classpath resolved by stack/pom.xml |
| MOTCUA_KAFKA_BOOTSTRAP | (unset) | clients only: a full ``host:port,...`` list (``kafka:9092`` in compose) |
| MOTCUA_CLICKHOUSE_HOST | MOTCUA_HOST | clients only: e.g. ``clickhouse`` in docker-compose |
| MOTCUA_CLICKHOUSE_USER / _PASSWORD / _DATABASE | default / empty / default | clients only |
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
STACK_DIR = Path(__file__).resolve().parent
CONF_DIR = STACK_DIR / "conf"

DEFAULT_KAFKA_PORT = 19092
DEFAULT_KAFKA_CONTROLLER_PORT = 19093
DEFAULT_KAFKA_CLUSTER_PORT = 19100
DEFAULT_CLICKHOUSE_PORT = 19000
DEFAULT_CLICKHOUSE_HTTP_PORT = 18123
DEFAULT_CLICKHOUSE_INTERSERVER_PORT = 19009
CLUSTER_SIZE = 3


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
    return _env_int(name, default + _env_int("MOTCUA_PORT_OFFSET", 0))


def home() -> Path:
    """Root of everything the stack writes (git-ignored ``var/`` by default)."""
    return Path(os.environ.get("MOTCUA_HOME") or REPO_ROOT / "var").resolve()


def host() -> str:
    return os.environ.get("MOTCUA_HOST") or "127.0.0.1"


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
    if brokers == 1:
        return [
            KafkaNode(
                name="kafka",
                node_id=1,
                port=_port("MOTCUA_KAFKA_PORT", DEFAULT_KAFKA_PORT),
                controller_port=_port("MOTCUA_KAFKA_CONTROLLER_PORT", DEFAULT_KAFKA_CONTROLLER_PORT),
                workdir=home() / "kafka",
                heap=os.environ.get("MOTCUA_KAFKA_HEAP") or "1g",
            )
        ]
    if brokers == CLUSTER_SIZE:
        base = _port("MOTCUA_KAFKA_CLUSTER_PORT", DEFAULT_KAFKA_CLUSTER_PORT)
        return [
            KafkaNode(
                name=f"kafka-cluster-{i + 1}",
                node_id=i + 1,
                port=base + i,
                controller_port=base + 10 + i,
                workdir=home() / "kafka-cluster" / f"node-{i + 1}",
                heap=os.environ.get("MOTCUA_KAFKA_HEAP") or "512m",
            )
            for i in range(CLUSTER_SIZE)
        ]
    raise ValueError(f"brokers must be 1 or {CLUSTER_SIZE}, not {brokers}")


def default_brokers() -> int:
    return _env_int("MOTCUA_KAFKA_BROKERS", 1)


def bootstrap_servers(brokers: int | None = None) -> str:
    """``host:port[,host:port...]`` for Kafka clients (kafka-python, aiokafka, faust's ``kafka://`` URL)."""
    explicit = os.environ.get("MOTCUA_KAFKA_BOOTSTRAP", "").strip()
    if explicit and brokers is None:
        return explicit
    nodes = kafka_nodes(brokers or default_brokers())
    return ",".join(f"{host()}:{n.port}" for n in nodes)


@dataclass(frozen=True)
class ClickHousePorts:
    native: int
    http: int
    interserver: int


def clickhouse_ports() -> ClickHousePorts:
    return ClickHousePorts(
        native=_port("MOTCUA_CLICKHOUSE_PORT", DEFAULT_CLICKHOUSE_PORT),
        http=_port("MOTCUA_CLICKHOUSE_HTTP_PORT", DEFAULT_CLICKHOUSE_HTTP_PORT),
        interserver=_port("MOTCUA_CLICKHOUSE_INTERSERVER_PORT", DEFAULT_CLICKHOUSE_INTERSERVER_PORT),
    )


def clickhouse_workdir() -> Path:
    return home() / "clickhouse"


def clickhouse_settings() -> dict[str, Any]:
    """Keyword arguments for ``clickhouse_driver.Client(**clickhouse_settings())``."""
    return {
        "host": os.environ.get("MOTCUA_CLICKHOUSE_HOST") or host(),
        "port": clickhouse_ports().native,
        "user": os.environ.get("MOTCUA_CLICKHOUSE_USER") or "default",
        "password": os.environ.get("MOTCUA_CLICKHOUSE_PASSWORD", ""),
        "database": os.environ.get("MOTCUA_CLICKHOUSE_DATABASE") or "default",
    }


def clickhouse_http_url() -> str:
    return f"http://{clickhouse_settings()['host']}:{clickhouse_ports().http}/"


def free_port() -> int:
    """A local TCP port nothing listens on now (for a second sink, worker or ingest beside the defaults)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
