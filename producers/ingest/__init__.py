"""The HTTP ingest API: one-stop systems push contract events or the portal's sync format."""
