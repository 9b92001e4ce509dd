"""Every setting a client of the pipeline reads from the environment, typed, in one place (pydantic-settings).

Read at call time (each ``Settings()`` reads the environment as it is then), so a test or a second checkout can move the
whole stack (``MOTCUA_PORT_OFFSET=1000``) or one port (``MOTCUA_KAFKA_PORT=29092``) without code. An empty
variable counts as unset. The local runner's own concerns (where the servers keep their data, controller
ports, JVM heap, the Kafka jars) stay in ``stack.services``.

| variable | default | meaning |
|---|---|---|
| MOTCUA_HOME | ``<repo>/var`` | data, logs, pid files (the streams' data directories too) |
| MOTCUA_HOST | 127.0.0.1 | the address every local service binds and advertises |
| MOTCUA_PORT_OFFSET | 0 | added to every default port |
| MOTCUA_KAFKA_PORT | 19092 | single-node broker |
| MOTCUA_KAFKA_CLUSTER_PORT | 19100 | 3-broker cluster: brokers on +0..+2 |
| MOTCUA_KAFKA_BROKERS | 1 | which Kafka ``bootstrap_servers()`` points at by default: 1 or 3 |
| MOTCUA_KAFKA_BOOTSTRAP | (unset) | a full ``host:port,...`` list (``kafka:9092`` in compose) |
| MOTCUA_CLICKHOUSE_HOST | MOTCUA_HOST | e.g. ``clickhouse`` in docker-compose |
| MOTCUA_CLICKHOUSE_PORT / _HTTP_PORT | 19000 / 18123 | native protocol / HTTP |
| MOTCUA_CLICKHOUSE_USER / _PASSWORD / _DATABASE | default / empty / default | |
| MOTCUA_HMAC_KEY / MOTCUA_HMAC_KEY_FILE | (unset) | the pseudonymisation key, or a file outside the repo holding it |
| MOTCUA_STREAMS_* | | a streams worker's settings: the table in streams/config.py |
| MOTCUA_NOTIFY_ROSTER | (unset) | the notifier's roster file (outside the repository: officials' contacts) |
| MOTCUA_NOTIFY_HOST / _PORT | 127.0.0.1 / 18095 | the notifier's HTTP receiver (Grafana's webhook, ack links) |
| MOTCUA_NOTIFY_PUBLIC_URL | http://host:port | the base of the acknowledgement links in the messages |
| MOTCUA_NOTIFY_WEBHOOK_TOKEN | (unset) | when set, Grafana's webhook must send ``Authorization: Bearer <token>`` |
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, PositiveInt, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_KAFKA_PORT = 19092
DEFAULT_KAFKA_CLUSTER_PORT = 19100
DEFAULT_CLICKHOUSE_PORT = 19000
DEFAULT_CLICKHOUSE_HTTP_PORT = 18123
DEFAULT_NOTIFY_PORT = 18095
CLUSTER_SIZE = 3


def _env(name: str, default: Any = None) -> Any:
    """A field read from the environment variable ``name`` (the README's names, greppable here)."""
    return Field(default, validation_alias=AliasChoices(name))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_ignore_empty=True, extra="ignore", frozen=True)

    home: Path | None = _env("MOTCUA_HOME")
    host: str = _env("MOTCUA_HOST", "127.0.0.1")
    port_offset: int = _env("MOTCUA_PORT_OFFSET", 0)
    kafka_port: int | None = _env("MOTCUA_KAFKA_PORT")
    kafka_cluster_port: int | None = _env("MOTCUA_KAFKA_CLUSTER_PORT")
    kafka_brokers: int = _env("MOTCUA_KAFKA_BROKERS", 1)
    kafka_bootstrap: str = _env("MOTCUA_KAFKA_BOOTSTRAP", "")
    kafka_fetch_wait: float = _env("MOTCUA_KAFKA_FETCH_WAIT", 0.1)  # the worker's and the sink's consumers
    clickhouse_host: str | None = _env("MOTCUA_CLICKHOUSE_HOST")
    clickhouse_port: int | None = _env("MOTCUA_CLICKHOUSE_PORT")
    clickhouse_http_port: int | None = _env("MOTCUA_CLICKHOUSE_HTTP_PORT")
    clickhouse_user: str = _env("MOTCUA_CLICKHOUSE_USER", "default")
    clickhouse_password: str = _env("MOTCUA_CLICKHOUSE_PASSWORD", "")
    clickhouse_database: str = _env("MOTCUA_CLICKHOUSE_DATABASE", "default")
    hmac_key: str | None = _env("MOTCUA_HMAC_KEY")
    hmac_key_file: Path | None = _env("MOTCUA_HMAC_KEY_FILE")

    notify_roster: Path | None = _env("MOTCUA_NOTIFY_ROSTER")
    notify_host: str = _env("MOTCUA_NOTIFY_HOST", "127.0.0.1")
    notify_port: int | None = _env("MOTCUA_NOTIFY_PORT")
    notify_public_url: str = _env("MOTCUA_NOTIFY_PUBLIC_URL", "")
    notify_webhook_token: str = _env("MOTCUA_NOTIFY_WEBHOOK_TOKEN", "")

    streams_app_id: str = _env("MOTCUA_STREAMS_APP_ID", "motcua-streams")
    streams_topic_prefix: str = _env("MOTCUA_STREAMS_TOPIC_PREFIX", "")
    streams_partitions: int = _env("MOTCUA_STREAMS_PARTITIONS", 6)
    streams_datadir: Path | None = _env("MOTCUA_STREAMS_DATADIR")
    streams_web_host: str = _env("MOTCUA_STREAMS_WEB_HOST", "127.0.0.1")
    streams_web_port: int = _env("MOTCUA_STREAMS_WEB_PORT", 6066)
    streams_batch: int = _env("MOTCUA_STREAMS_BATCH", 2000)
    streams_batch_within: float = _env("MOTCUA_STREAMS_BATCH_WITHIN", 0.2)
    streams_compression: str = _env("MOTCUA_STREAMS_COMPRESSION", "gzip")
    streams_kpi_interval: float = _env("MOTCUA_STREAMS_KPI_INTERVAL", 1.0)
    streams_unit_alert_rate: float = _env("MOTCUA_STREAMS_UNIT_ALERT_RATE", 0.2)
    streams_unit_alert_min: int = _env("MOTCUA_STREAMS_UNIT_ALERT_MIN", 10)
    streams_session_timeout: float = _env("MOTCUA_STREAMS_SESSION_TIMEOUT", 30.0)
    streams_standbys: int = _env("MOTCUA_STREAMS_STANDBYS", 0)
    streams_cache: int = _env("MOTCUA_STREAMS_CACHE", 50_000)
    streams_table_cache_mib: PositiveInt = _env("MOTCUA_STREAMS_TABLE_CACHE_MIB", 320)  # SQL: "-{kib}" needs it
    streams_loglevel: str = _env("MOTCUA_STREAMS_LOGLEVEL", "info")
    streams_stages: str = _env("MOTCUA_STREAMS_STAGES", "all")
    streams_stall_seconds: float = _env("MOTCUA_STREAMS_STALL_SECONDS", 180.0)
    streams_stop_seconds: float = _env("MOTCUA_STREAMS_STOP_SECONDS", 25.0)

    @field_validator("kafka_bootstrap", "streams_topic_prefix", mode="before")
    @classmethod
    def _stripped(cls, value: Any) -> Any:
        """Blanks around a list or a prefix are a typo, not part of it (an all-blank value is unset)."""
        return value.strip() if isinstance(value, str) else value

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Settings:
        """The settings of an environment other than the process's own (tests, child processes)."""
        return _OnlyGiven(**{name: value for name, value in env.items() if value.strip()})

    def port(self, explicit: int | None, default: int) -> int:
        """An explicit MOTCUA_*_PORT wins; otherwise the default moved by MOTCUA_PORT_OFFSET."""
        return explicit if explicit is not None else default + self.port_offset

    @property
    def home_dir(self) -> Path:
        """Root of everything the stack writes (git-ignored ``var/`` by default)."""
        return (self.home or REPO_ROOT / "var").resolve()

    def kafka_ports(self, brokers: int) -> list[int]:
        """The client ports of the single-node stack (brokers=1) or of the 3-broker KRaft cluster (brokers=3)."""
        if brokers == 1:
            return [self.port(self.kafka_port, DEFAULT_KAFKA_PORT)]
        if brokers == CLUSTER_SIZE:
            base = self.port(self.kafka_cluster_port, DEFAULT_KAFKA_CLUSTER_PORT)
            return [base + i for i in range(CLUSTER_SIZE)]
        raise ValueError(f"brokers must be 1 or {CLUSTER_SIZE}, not {brokers}")

    def bootstrap_servers(self, brokers: int | None = None) -> str:
        """``host:port[,host:port...]`` for Kafka clients (kafka-python, aiokafka, faust's ``kafka://`` URL).

        MOTCUA_KAFKA_BOOTSTRAP wins unless a local stack's size is asked for.
        """
        if self.kafka_bootstrap and brokers is None:
            return self.kafka_bootstrap
        return ",".join(f"{self.host}:{port}" for port in self.kafka_ports(brokers or self.kafka_brokers))

    @property
    def clickhouse_native_port(self) -> int:
        return self.port(self.clickhouse_port, DEFAULT_CLICKHOUSE_PORT)

    @property
    def clickhouse_http(self) -> int:
        return self.port(self.clickhouse_http_port, DEFAULT_CLICKHOUSE_HTTP_PORT)

    @property
    def notify_http_port(self) -> int:
        return self.port(self.notify_port, DEFAULT_NOTIFY_PORT)

    def clickhouse_settings(self) -> dict[str, Any]:
        """Keyword arguments for ``clickhouse_driver.Client(**clickhouse_settings())``."""
        return {
            "host": self.clickhouse_host or self.host,
            "port": self.clickhouse_native_port,
            "user": self.clickhouse_user,
            "password": self.clickhouse_password,
            "database": self.clickhouse_database,
        }

    def clickhouse_http_url(self) -> str:
        return f"http://{self.clickhouse_host or self.host}:{self.clickhouse_http}/"


class _OnlyGiven(Settings):
    """``Settings`` of the variables given to it, not of the process's environment."""

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource, **_: Any
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)
