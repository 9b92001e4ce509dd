"""A realistic, seeded stream of dossier events (pure: no Kafka, no files)."""
