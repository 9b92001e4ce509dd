"""The committed OpenAPI document is the one the server serves, and it is a valid OpenAPI 3.1 shape."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from producers.ingest.openapi import openapi_document

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_committed_document_is_current() -> None:
    assert json.loads(COMMITTED.read_text(encoding="utf-8")) == openapi_document(), (
        "docs/openapi.json is stale: run `motcua ingest openapi > docs/openapi.json`"
    )


def test_component_schemas_are_valid_json_schema() -> None:
    doc = openapi_document()
    assert doc["openapi"].startswith("3.1")
    for schema in doc["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    for path in doc["paths"].values():
        for operation in path.values():
            assert operation["responses"]
