"""The screens are tested on the sink tests' landing: the same simulated data in ClickHouse 18.16 and chDB."""

from tests.sinks.test_queries import landed  # noqa: F401 - the module-scoped fixture, shared
