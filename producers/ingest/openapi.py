"""The ingest API's OpenAPI 3.1 document, built from the contract's JSON Schema.

Served at /openapi.json and committed as docs/openapi.json (`motcua ingest openapi > docs/openapi.json`;
a test checks the committed file is current).
"""

from __future__ import annotations

import json
from typing import Any

from dossier.contract import schema_path
from producers.sync import PROGRESS, SNAPSHOT

_CODE = {"oneOf": [{"type": "integer"}, {"type": "string", "pattern": "^[0-9]*$"}]}
_TIME = {"type": "string", "pattern": "^([0-9]{14})?$", "description": "yyyyMMddHHmmss, Asia/Ho_Chi_Minh; '' = absent"}
_TEXT = {"type": ["string", "integer"]}


def _sync_record(service: str) -> dict[str, Any]:
    """A DongBoHoSoMC snapshot or a CapNhatTienDoHoSoMC progress step, requiring what the mapper requires."""
    snapshot = {
        name: _TIME
        for name in ("NgayNopHoSo", "NgayTiepNhan", "NgayHenTra", "NgayTuChoi", "NgayKetThucXuLy", "NgayTra")
    }
    codes = ("KenhThucHien", "TrangThaiHoSo", "LoaiDoiTuong", "HinhThuc", "HoSoCoThanhPhanSoHoa")
    required = (
        ["MaHoSo", "MaTTHC", "TrangThaiHoSo"]
        if service == SNAPSHOT
        else ["MaHoSo", "MaTTHC", "TrangThai", "ThoiDiemXuLy"]
    )
    return {
        "type": "object",
        "description": (
            f"A {service} record (DOMAIN.md section 9). Unknown fields are accepted and never enter an event; "
            "personal fields (ChuHoSo, SoDienThoai, Email, DinhDanhCHS, addresses) are dropped, SoGiayToChuHoSo "
            "and NguoiXuLy become HMAC pseudonyms. MaHoSo must carry the token's province (agency code ...Hpp)."
        ),
        "required": required,
        "properties": {
            "MaHoSo": {"type": "string", "minLength": 1},
            "MaTTHC": {"type": "string", "minLength": 1},
            "MaLinhVuc": {"type": "string"},
            "DonViXuLy": _TEXT,
            "PhongBanXuLy": _TEXT,
            "SoGiayToChuHoSo": _TEXT,
            "DuocThanhToanTrucTuyen": _CODE,
            **{name: _CODE for name in codes},
            **snapshot,
            "TaiLieuNop": {"type": "array", "items": {"type": "object"}},
            "DanhSachLePhi": {"type": "array", "items": {"type": "object", "properties": {"Gia": _CODE}}},
            "DanhSachHoSoBoSung": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["NgayBoSung"],
                    "properties": {"NgayBoSung": _TIME, "NgayTiepNhanBoSung": _TIME},
                },
            },
            "DanhSachGiayToKetQua": {"type": "array", "items": {"type": "object"}},
            "TrangThai": _CODE,
            "ThoiDiemXuLy": _TIME,
            "NguoiXuLy": _TEXT,
        },
    }


def _sync_request(service: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["service", "data"],
        "properties": {
            "service": {"const": service},
            "isUpdating": {"type": "boolean"},
            "data": {"type": "array", "minItems": 1, "items": _sync_record(service)},
        },
    }


def _inlined(schema: Any, root: dict[str, Any]) -> Any:
    """`schema` with every local `$ref` (`#/$defs/...`) replaced by what it points to: tools such as
    schemathesis resolve references from the OpenAPI document's root, where `#/$defs` does not exist."""
    if isinstance(schema, list):
        return [_inlined(s, root) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if schema == {"not": {"type": "null"}}:  # the same set, spelled out: generators cannot complement a `not`
        return {"type": ["boolean", "integer", "number", "string", "array", "object"]}
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return _inlined(target, root)
    return {k: _inlined(v, root) for k, v in schema.items() if k not in ("$defs", "$schema", "$id")}


def _response(description: str, schema: str | None = None, retry_after: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if schema:
        out["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
    if retry_after:
        out["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
    return out


_RESPONSES = {
    "202": _response("Every record was acknowledged by Kafka (acks=all).", "Accepted"),
    "400": _response("The body is not JSON / NDJSON.", "Problems"),
    "401": _response("Missing or unknown bearer token.", "Error"),
    "403": _response(
        "Some record is outside what the token may write (another source, province, dossier or unit). "
        "Nothing was accepted; refused records go to dossier.dlq, scrubbed.",
        "Problems",
    ),
    "413": _response("The body is larger than the limit."),
    "415": _response("The Content-Type is not application/json or application/x-ndjson.", "Error"),
    "422": _response(
        "Some records are invalid (contract, personal data, event time out of bounds); the first 100 problems are "
        "listed, `more_problems` counts the rest. Nothing was accepted; refused records go to dossier.dlq, scrubbed.",
        "Problems",
    ),
    "429": _response(
        "Over the source's rate of records, or too many records await Kafka. Nothing was accepted.", "Error", True
    ),
    "503": _response("Kafka did not acknowledge. Nothing is guaranteed: retry the whole request.", "Error", True),
}


def openapi_document() -> dict[str, Any]:
    contract = json.loads(schema_path("dossier-event-1.schema.json").read_text(encoding="utf-8"))
    event = _inlined(contract, contract)
    # The per-type rules (`allOf` of if/then) are beyond what schemathesis can generate from; they stay in
    # dossier/schema (the authority the server validates against) and are stated here in words.
    del event["allOf"]
    event["description"] += (
        " Per type, also required: online_level and channel on submitted/accepted; due_at or deadline on "
        "accepted; due_at on apology_issued; paid_online on payment_completed; electronic_result on resolved; "
        "return_channel on returned; rating on rated (dossier/schema/dossier-event-1.schema.json). At the edge, "
        "unknown fields are dropped, not kept."
    )
    ndjson_events = {"type": "string", "description": "one dossier-event/1 JSON object per line"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "motcua ingest API",
            "version": "1",
            "description": (
                "One-stop systems push dossier events here; they are produced to Kafka topic dossier.events "
                "(key = dossier_id). A request is all or nothing. A token belongs to one source, which may "
                "only send for its own province (and under its own `source` id): dossiers whose MaHoSo carries its "
                "province code (or, since the 2025 merger, a code it was formed from), units of that province. "
                "Only the contract's fields are kept; `officer` and `applicant.id_hash` become HMAC pseudonyms; raw "
                "CCCD or phone numbers are refused. See docs/security.md."
            ),
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "DossierEvent": event,
                "SyncRequest": {"oneOf": [_sync_request(SNAPSHOT), _sync_request(PROGRESS)]},
                "Accepted": {
                    "type": "object",
                    "required": ["accepted"],
                    "properties": {"accepted": {"type": "integer", "minimum": 0}},
                },
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "Problems": {
                    "type": "object",
                    "required": ["error", "problems", "more_problems"],
                    "properties": {
                        "error": {"type": "string"},
                        "more_problems": {"type": "integer", "minimum": 0, "description": "problems not listed"},
                        "problems": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["index", "field", "reason"],
                                "properties": {
                                    "index": {"type": ["integer", "null"], "description": "record (NDJSON line - 1)"},
                                    "field": {"type": "string"},
                                    "reason": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/v1/events": {
                "post": {
                    "summary": "Push dossier-event/1 records: one object, a JSON array, or NDJSON.",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": "#/components/schemas/DossierEvent"},
                                        {"type": "array", "items": {"$ref": "#/components/schemas/DossierEvent"}},
                                    ]
                                }
                            },
                            "application/x-ndjson": {"schema": ndjson_events},
                        },
                    },
                    "responses": _RESPONSES,
                }
            },
            "/v1/sync": {
                "post": {
                    "summary": "Push the national portal's sync format (DongBoHoSoMC / CapNhatTienDoHoSoMC).",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/SyncRequest"}},
                            "application/x-ndjson": {
                                "schema": {"type": "string", "description": "one sync request JSON object per line"}
                            },
                        },
                    },
                    "responses": _RESPONSES,
                }
            },
            "/openapi.json": {
                "get": {"summary": "This document.", "security": [], "responses": {"200": {"description": "OK"}}}
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness and Kafka state.",
                    "security": [],
                    "responses": {"200": {"description": "Kafka delivers"}, "503": {"description": "Kafka failing"}},
                }
            },
        },
    }
