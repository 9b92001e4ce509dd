"""The 3-broker KRaft cluster of `motcua stack up --brokers 3`, for the fault tests.

`make test` starts only the single-node stack; the cluster listens on other ports, so a test that needs it
starts it here when it does not answer, and stops afterwards only the nodes it started (a cluster that was
already up is left up).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from stack import control, services
from stack import kafka as local_kafka
from stack.procs import pid_file, read_pid_file, stop
from wire.settings import CLUSTER_SIZE, Settings


def running_nodes() -> set[str]:
    """Names of the cluster nodes whose pid file names a live process."""
    return {n.name for n in services.kafka_nodes(CLUSTER_SIZE)
            if read_pid_file(pid_file(services.run_dir(), n.name))[0] is not None}


@pytest.fixture(scope="module")
def cluster_bootstrap(clickhouse_ready: dict[str, object]) -> Iterator[str]:
    """Bootstrap servers of the 3-broker cluster (RF 3, min.insync.replicas=2), started if it is not up.

    Depends on ``clickhouse_ready`` so that a stack without ClickHouse fails here instead of `up` starting it.
    """
    before = running_nodes()
    if not local_kafka.cluster_answers(services.kafka_nodes(CLUSTER_SIZE)):
        control.up(brokers=CLUSTER_SIZE, log=lambda _: None)
    yield Settings().bootstrap_servers(CLUSTER_SIZE)
    started = running_nodes() - before
    with ThreadPoolExecutor(max_workers=CLUSTER_SIZE) as pool:  # all at once, as `stack down` does
        list(pool.map(lambda name: stop(name, services.run_dir()), started))
