"""Apache Kafka (KRaft, combined broker+controller) from the official jars, without the shell scripts."""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from string import Template

from kafka import KafkaAdminClient
from kafka.errors import KafkaConfigurationError, KafkaError

from stack import services
from stack.procs import StackError, port_answers
from stack.services import KafkaNode

POM = services.STACK_DIR / "pom.xml"
JVM_FLAGS = (
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
)


def _pom_digest() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def jars_ready(jars: Path | None = None) -> bool:
    jars = jars or services.jars_dir()
    stamp = jars / ".pom.sha256"
    return stamp.exists() and stamp.read_text().strip() == _pom_digest()


def ensure_jars(jars: Path | None = None) -> bool:
    """Resolve the Kafka classpath from Maven Central into `jars` unless stack/pom.xml is unchanged since.

    Returns True when Maven ran.
    """
    jars = jars or services.jars_dir()
    if jars_ready(jars):
        return False
    if shutil.which("mvn") is None:
        raise StackError("Maven (mvn) is not installed: it resolves the Kafka jars (apt-get install maven)")
    if jars.exists():
        shutil.rmtree(jars)
    cmd = [
        "mvn", "-q", "-B", "-Dstyle.color=never", "-f", str(POM),
        "dependency:copy-dependencies", f"-DoutputDirectory={jars}",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise StackError(f"resolving Kafka jars failed ({' '.join(cmd)}):\n{result.stdout}{result.stderr}")
    (jars / ".pom.sha256").write_text(_pom_digest() + "\n")
    return True


def kafka_version(jars: Path | None = None) -> str:
    jars = jars or services.jars_dir()
    found = sorted(jars.glob("kafka_2.13-*.jar"))
    return found[0].name.removeprefix("kafka_2.13-").removesuffix(".jar") if found else "?"


def _java(node_heap: str, *args: str, log_dir: Path, fixed_heap: bool = False) -> list[str]:
    """The java command line; ``fixed_heap`` (a broker): the whole heap reserved and touched at start, as
    Kafka's own operations advice has it, so that a broker's memory is known up front and stays flat."""
    java = shutil.which("java")
    if java is None:
        raise StackError("java is not installed: Kafka needs Java 17 (apt-get install openjdk-17-jre-headless)")
    # kafka.logs.dir must always be set: log4j2.properties names its file through it
    props = [f"-Dlog4j2.configurationFile={services.CONF_DIR / 'log4j2.properties'}", f"-Dkafka.logs.dir={log_dir}"]
    heap = [f"-Xms{node_heap}", "-XX:+AlwaysPreTouch"] if fixed_heap else ["-Xms64m"]
    heap.append(f"-Xmx{node_heap}")
    return [java, *heap, *JVM_FLAGS, *props, "-cp", f"{services.jars_dir()}/*", *args]


def render_properties(node: KafkaNode, nodes: list[KafkaNode]) -> Path:
    """Write the node's server.properties from conf/kafka-server.properties."""
    host = services.host()
    if len(nodes) == 1:
        # a dynamic single-voter quorum, as `StorageTool format --standalone` expects
        quorum = f"controller.quorum.bootstrap.servers={host}:{node.controller_port}"
    else:
        voters = ",".join(f"{n.node_id}@{host}:{n.controller_port}" for n in nodes)
        quorum = f"controller.quorum.voters={voters}"
    replication = min(3, len(nodes))
    text = Template((services.CONF_DIR / "kafka-server.properties").read_text()).substitute(
        node_id=node.node_id,
        quorum_line=quorum,
        host=host,
        port=node.port,
        controller_port=node.controller_port,
        data_dir=node.data_dir,
        replication=replication,
        min_isr=max(1, replication - 1),
    )
    node.workdir.mkdir(parents=True, exist_ok=True)
    path = node.workdir / "server.properties"
    path.write_text(text)
    return path


def _cluster_id(nodes: list[KafkaNode]) -> str:
    """One id per cluster, made by StorageTool once and kept beside the node folders."""
    id_file = nodes[0].workdir.parent / "cluster.id" if len(nodes) > 1 else nodes[0].workdir / "cluster.id"
    if id_file.exists():
        return id_file.read_text().strip()
    uuid_cmd = _java("256m", "kafka.tools.StorageTool", "random-uuid", log_dir=id_file.parent / "logs")
    result = subprocess.run(uuid_cmd, capture_output=True, text=True, check=False)
    cluster_id = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    if result.returncode != 0 or not cluster_id:
        raise StackError(f"kafka.tools.StorageTool random-uuid failed: {result.stderr.strip()}")
    id_file.parent.mkdir(parents=True, exist_ok=True)
    id_file.write_text(cluster_id + "\n")
    return cluster_id


def prepare(nodes: list[KafkaNode]) -> None:
    """Render every node's config and format its storage on first start (meta.properties marks it done)."""
    ensure_jars()
    cluster_id = _cluster_id(nodes)
    unformatted = [(node, render_properties(node, nodes)) for node in nodes]
    unformatted = [(node, props) for node, props in unformatted if not (node.data_dir / "meta.properties").exists()]

    def format_storage(node: KafkaNode, props: Path) -> None:
        args = ["kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props)]
        if len(nodes) == 1:
            args.append("--standalone")
        result = subprocess.run(_java("256m", *args, log_dir=node.log_dir), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError(f"formatting {node.name} storage failed: {result.stdout}{result.stderr}")

    with ThreadPoolExecutor(max_workers=max(1, len(unformatted))) as pool:  # one JVM each, in parallel
        for future in [pool.submit(format_storage, node, props) for node, props in unformatted]:
            future.result()


def command(node: KafkaNode) -> list[str]:
    properties = str(node.workdir / "server.properties")
    return _java(node.heap, "kafka.Kafka", properties, log_dir=node.log_dir, fixed_heap=True)


def server_log(node: KafkaNode) -> Path:
    return node.log_dir / "server.log"


def stdout_log(node: KafkaNode) -> Path:
    return node.workdir / "stdout.log"


def cluster_answers(nodes: list[KafkaNode], timeout_ms: int = 5000) -> bool:
    """A metadata request succeeds and lists every broker of `nodes`, none fenced."""
    if not all(port_answers(services.host(), n.port) for n in nodes):
        return False  # a client against refused ports backs off for many seconds; a socket does not
    bootstrap = ",".join(f"{services.host()}:{n.port}" for n in nodes)
    kafka_logger = logging.getLogger("kafka")
    level = kafka_logger.level
    kafka_logger.setLevel(logging.CRITICAL)  # connection refusals are expected while it starts
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms)
        try:
            brokers = admin.describe_cluster()["brokers"]
        finally:
            admin.close()
    except KafkaConfigurationError:
        raise
    except (KafkaError, OSError):
        return False
    finally:
        kafka_logger.setLevel(level)
    live = {b["broker_id"] for b in brokers if not b.get("is_fenced")}
    return live >= {n.node_id for n in nodes}
