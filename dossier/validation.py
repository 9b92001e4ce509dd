"""The full validator of the contract: every violation of a record, with its field and reason.

It runs ``jsonschema`` on the schema files, the single source of truth, and turns its errors into plain
reasons. It is the slow path: ``dossier.contract`` calls it only for records its fast reader refused.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import jsonschema

from dossier.contract import Violation, parse_timestamp, schema_path


def _is_strict_integer(checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


def _is_strict_number(checker: Any, instance: Any) -> bool:
    return isinstance(instance, int | float) and not isinstance(instance, bool)


_TYPE_CHECKER = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine_many(
    {"integer": _is_strict_integer, "number": _is_strict_number}
)
_StrictValidator = jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=_TYPE_CHECKER)


@cache
def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = json.loads(schema_path(name).read_text(encoding="utf-8"))
    _StrictValidator.check_schema(schema)
    return _StrictValidator(schema, format_checker=_FORMAT_CHECKER)


_FORMAT_CHECKER = jsonschema.FormatChecker(formats=())


@_FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    if isinstance(value, str):
        parse_timestamp(value)
    return True


def violations_of(schema_file: str, record: dict[str, Any]) -> list[Violation]:
    """Every violation of a record against one of the schema files, sorted by field."""
    found: dict[tuple[str, str], None] = {}
    for error in _validator(schema_file).iter_errors(record):
        for violation in _describe(error, record):
            found.setdefault((violation.field, violation.reason), None)
    return [Violation(field, reason) for field, reason in sorted(found)]


def _describe(error: jsonschema.ValidationError, record: dict[str, Any]) -> list[Violation]:
    path = ".".join(str(part) for part in error.absolute_path)
    kind = error.validator
    event_type = record.get("type")
    by_type = "allOf" in error.schema_path
    if kind == "required":
        missing = re.search(r"'(.+?)' is a required property", error.message)
        name = missing.group(1) if missing else "?"
        field = f"{path}.{name}" if path else name
        return [Violation(field, f"required on a '{event_type}' event" if by_type else "missing")]
    if kind == "not":
        return [Violation(path, f"required on a '{event_type}' event")]
    if kind == "anyOf" and not path:
        return [Violation("due_at", "an 'accepted' event needs due_at or deadline")]
    if kind == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return [Violation(path, f"expected {expected}, got {_json_type(error.instance)}")]
    if kind == "const":
        return [Violation(path, f"must be {json.dumps(error.validator_value)}")]
    if kind == "enum":
        allowed = ", ".join(json.dumps(v) for v in error.validator_value if v is not None)
        what = "unknown event type" if path == "type" else "not allowed"
        return [Violation(path, f"{what} {json.dumps(error.instance, ensure_ascii=False)}; one of {allowed}")]
    if kind in ("minimum", "maximum"):
        word = "at least" if kind == "minimum" else "at most"
        return [Violation(path, f"must be {word} {error.validator_value}, got {error.instance}")]
    if kind == "minLength":
        return [Violation(path, "must not be empty")]
    if kind == "multipleOf":
        return [Violation(path, "calendar_days must be whole days")]
    if kind in ("pattern", "format"):
        return [Violation(path, _datetime_error(error.instance))]
    return [Violation(path, error.message)]


def _datetime_error(value: str) -> str:
    try:
        parse_timestamp(value)
    except ValueError as error:
        return str(error)
    return f"not an RFC 3339 datetime: {value!r}"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number (not an integer)" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
