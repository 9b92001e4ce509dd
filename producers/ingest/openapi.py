"""The ingest API's OpenAPI 3.1 document, built from the contract's JSON Schema.

Served at /openapi.json and committed as docs/openapi.json (`motcua ingest openapi > docs/openapi.json`;
a test checks the committed file is current).
"""

from __future__ import annotations

import json
from typing import Any

from dossier.contract import schema_path

_CODE = {"oneOf": [{"type": "integer"}, {"type": "string", "pattern": "^[0-9]*$"}]}
_TIME = {"type": "string", "pattern": "^([0-9]{14})?$", "description": "yyyyMMddHHmmss, Asia/Ho_Chi_Minh; '' = absent"}
_TEXT = {"type": ["string", "integer"]}


def _sync_record() -> dict[str, Any]:
    snapshot = {
        name: _TIME
        for name in ("NgayNopHoSo", "NgayTiepNhan", "NgayHenTra", "NgayTuChoi", "NgayKetThucXuLy", "NgayTra")
    }
    codes = ("KenhThucHien", "TrangThaiHoSo", "LoaiDoiTuong", "HinhThuc", "HoSoCoThanhPhanSoHoa")
    return {
        "type": "object",
        "description": (
            "A DongBoHoSoMC dossier snapshot or a CapNhatTienDoHoSoMC progress step (DOMAIN.md section 9). "
            "Unknown fields are accepted and never enter an event; personal fields (ChuHoSo, SoDienThoai, "
            "Email, DinhDanhCHS, addresses) are dropped, SoGiayToChuHoSo becomes an HMAC pseudonym."
        ),
        "required": ["MaHoSo", "MaTTHC"],
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
    "413": _response("The body is larger than the limit."),
    "422": _response("Some records are invalid; every problem is listed, nothing was accepted.", "Problems"),
    "429": _response("Overloaded: too many records await Kafka. Nothing was accepted.", "Error", True),
    "503": _response("Kafka did not acknowledge. Nothing is guaranteed: retry the whole request.", "Error", True),
}


def openapi_document() -> dict[str, Any]:
    event = json.loads(schema_path("dossier-event-1.schema.json").read_text(encoding="utf-8"))
    ndjson_events = {"type": "string", "description": "one dossier-event/1 JSON object per line"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "motcua ingest API",
            "version": "1",
            "description": (
                "One-stop systems push dossier events here; they are produced to Kafka topic dossier.events "
                "(key = dossier_id). A request is all or nothing. A token belongs to one source, which may "
                "only send for its own province (and under its own `source` id)."
            ),
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "DossierEvent": event,
                "SyncRequest": {
                    "type": "object",
                    "required": ["service", "data"],
                    "properties": {
                        "service": {"enum": ["DongBoHoSoMC", "CapNhatTienDoHoSoMC"]},
                        "isUpdating": {"type": "boolean"},
                        "data": {"type": "array", "minItems": 1, "items": _sync_record()},
                    },
                },
                "Accepted": {
                    "type": "object",
                    "required": ["accepted"],
                    "properties": {"accepted": {"type": "integer", "minimum": 0}},
                },
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "Problems": {
                    "type": "object",
                    "required": ["error", "problems"],
                    "properties": {
                        "error": {"type": "string"},
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
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SyncRequest"}}},
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
