"""ClickHouse: the schema as versioned migrations, and the batching, idempotent sink from Kafka."""
