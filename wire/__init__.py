"""The wire contracts every room agrees on: topic names, DLQ headers, the partitioner, record schemas.

Imports only the domain (``dossier``) and the Kafka client libraries, so that producers, streams,
sinks, notify and audit may all import it (ARCHITECTURE.md: the one shared module).
"""
