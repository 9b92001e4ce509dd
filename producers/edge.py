"""The edge policy: what a source may put on Kafka, and what a refused record's DLQ copy keeps. Pure.

Every producer of outside input (the ingest API's two endpoints, the importer) passes each record
through `admit`, which works by allowlist (DOMAIN.md sections 2 and 6, docs/security.md):

* only the fields of the contract's table are kept (nested: `applicant.kind|id_hash`,
  `deadline.value|unit`); anything else is dropped unread, so it is never stored nor logged;
* a kept string that looks like a raw CCCD number (12 digits) or a phone number is refused;
  identifiers and codes must be printable ASCII without blanks (no NUL, no control character);
* `officer` and `applicant.id_hash` must be pseudonyms: a 32-hex HMAC is kept, anything else is
  replaced by its HMAC here;
* event time is bounded (`Bounds`): one source must not drag the pipeline's event time to 2099;
* a source (token) may only write its own province's dossiers and units (`Grant`); old GSO codes
  of the provinces merged into it on 2025-07-01 count as its own.

The record that goes to Kafka is re-encoded from the decoded `EventRecord`, absent fields omitted.
A refused record gets a scrubbed copy for `dossier.dlq` (`Quarantined`): the allowlisted fields
only, with every string that is not a plain code replaced by its HMAC, and a note of what was
dropped or replaced, so that the DLQ never holds personal data in clear either.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from dossier import catalog
from dossier.contract import (
    EVENT_SCHEMA,
    ClockTick,
    EventRecord,
    InvalidRecord,
    InvalidTick,
    Violation,
    decode_record,
    parse_timestamp,
)
from wire.dlq import PREFIX, dlq_headers

Pseudonym = Callable[[object], str]

_HEAD = ("schema", "event_id", "dossier_id", "type", "occurred_at", "source", "province", "unit", "receiving_unit")
#: DOMAIN.md section 2's table, in its order (EventRecord's fields)
FIELDS: tuple[str, ...] = (*_HEAD, *(f for f in EventRecord.__struct_fields__ if f not in _HEAD))
NESTED = {"applicant": ("kind", "id_hash"), "deadline": ("value", "unit")}
PSEUDONYMOUS = ("officer", "applicant.id_hash")
CODES = ("event_id", "dossier_id", "source", "province", "unit", "receiving_unit", "procedure_code", "procedure_field")

HASH = re.compile(r"[0-9a-f]{32}")
CCCD = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
PHONE = re.compile(r"(?<![0-9])(?:\+84|84|0)(?:[ .-]?[0-9]){9,10}(?![0-9])")
CODE = re.compile(r"[!-~]{1,128}")  # printable ASCII, no blank, no control character
PROVINCE_OF_CODE = re.compile(r"(?:^|\.)H([0-9]{2})$")  # agency / unit code 000.00.NN.Hpp
MERGER = parse_timestamp("2025-07-01T00:00:00+07:00")


def personal_reason(value: str) -> str | None:
    """Why a string looks like personal data (a raw CCCD or phone number), or None."""
    if HASH.fullmatch(value):
        return None
    if CCCD.search(value):
        return "looks like a raw CCCD number: personal data is refused at the edge (send its HMAC pseudonym)"
    if PHONE.search(value):
        return "looks like a phone number: personal data is refused at the edge"
    return None


@dataclass(frozen=True, slots=True)
class Bounds:
    """Event time a source may send: `occurred_at` in [earliest, now + max_ahead_s];
    `due_at` in [earliest, occurred_at + max_due_after_s] (a due date is legitimately weeks ahead)."""

    earliest: float = parse_timestamp("2015-01-01T00:00:00+07:00")
    max_ahead_s: float = 86_400.0
    max_due_after_s: float = 2 * 366 * 86_400.0

    @classmethod
    def parse(cls, earliest: str, max_ahead_s: float, max_due_after_s: float) -> Bounds:
        return cls(parse_timestamp(earliest), max_ahead_s, max_due_after_s)

    def violations(self, occurred: float, due: float | None, now: float) -> list[Violation]:
        out = []
        if occurred < self.earliest:
            out.append(Violation("occurred_at", f"before the earliest accepted event time ({_day(self.earliest)})"))
        elif occurred > now + self.max_ahead_s:
            out.append(Violation("occurred_at", f"more than {self.max_ahead_s:g} s in the future"))
        if due is not None and not self.earliest <= due <= occurred + self.max_due_after_s:
            out.append(
                Violation(
                    "due_at",
                    f"must be after {_day(self.earliest)} and within {self.max_due_after_s:g} s of occurred_at",
                )
            )
        return out


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts).date().isoformat()


@dataclass(frozen=True, slots=True)
class Grant:
    """What a token lets its source write: events under its id, for its province's dossiers and units."""

    source: str
    province: str
    units: frozenset[str] = frozenset()  # unit codes configured for the source (any form)

    @property
    def codes(self) -> frozenset[str]:
        """The province's code and, for a province formed on 2025-07-01, the GSO codes it was formed from."""
        try:
            return frozenset({self.province, *catalog.province(self.province).formed_from})
        except KeyError:
            return frozenset({self.province})

    def violations(self, event: Mapping[str, Any], occurred: float) -> list[Violation]:
        """The fields outside this grant (an absent or non-string field is the contract's business: 422, not 403)."""
        codes = self.codes
        given = {k: v for k, v in event.items() if isinstance(v, str) and v}
        out = []
        if given.get("source", self.source) != self.source:
            out.append(Violation("source", f"must be this token's source {self.source!r}"))
        province = given.get("province", self.province)
        if province != self.province and not (province in codes and occurred < MERGER):
            out.append(Violation("province", f"source {self.source!r} may only send for province {self.province!r}"))
        if "dossier_id" in given:
            dossier_province = province_of(given["dossier_id"])
            if dossier_province is None:
                out.append(Violation("dossier_id", "carries no province code (an agency code ending in Hpp)"))
            elif dossier_province not in codes:
                reason = f"is a dossier of province {dossier_province}, not of {self.province}"
                out.append(Violation("dossier_id", reason))
        for name in ("unit", "receiving_unit"):
            unit = given.get(name)
            if unit is not None and unit not in self.units and province_of(unit) not in codes:
                out.append(Violation(name, f"is not a unit of province {self.province}"))
        return out


def province_of(code: object) -> str | None:
    """The province code carried by a MaHoSo or unit code (`000.00.01.H26-250702-0012` -> `26`), or None."""
    if not isinstance(code, str):
        return None
    match = PROVINCE_OF_CODE.search(code.split("-", 1)[0])
    return match.group(1) if match else None


def shaped(
    doc: Mapping[str, Any], nested: Mapping[str, tuple[str, ...]], fields: tuple[str, ...]
) -> tuple[dict[str, Any], int]:
    """Only the allowlisted fields, each a scalar or (for a nested field) a flat object; and how many were dropped.

    A container where a scalar belongs becomes an empty one, so that validation names the wrong type
    without reading (or echoing) whatever depth it had.
    """
    out: dict[str, Any] = {}
    dropped = 0
    for name, value in doc.items():
        if name not in fields:
            dropped += 1
        elif name in nested and isinstance(value, dict):
            inner, n = shaped(value, {}, nested[name])
            out[name], dropped = inner, dropped + n
        else:
            out[name] = type(value)() if isinstance(value, dict | list) else value
    return out, dropped


def _get(doc: Mapping[str, Any], path: str) -> Any:
    head, _, tail = path.partition(".")
    value = doc.get(head)
    return (value.get(tail) if isinstance(value, dict) else None) if tail else value


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    head, _, tail = path.partition(".")
    if tail:
        doc[head] = {**doc[head], tail: value}
    else:
        doc[head] = value


def _scalars(doc: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str | int]]:
    """(dotted path, value) of every string and integer (not bool) of a flat-or-nested allowlisted record."""
    out: list[tuple[str, str | int]] = []
    for name, value in doc.items():
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            out.append((prefix + name, value))
        elif isinstance(value, dict):
            out += _scalars(value, f"{prefix}{name}.")
    return out


def pseudonymised(doc: dict[str, Any], pseudonym: Pseudonym, paths: tuple[str, ...]) -> list[str]:
    """Replace the values at `paths` that are not already HMAC pseudonyms by their HMAC; returns the paths changed."""
    changed = []
    for path in paths:
        value = _get(doc, path)
        if isinstance(value, str) and value and not HASH.fullmatch(value):
            _set(doc, path, pseudonym(value))
            changed.append(path)
    return changed


def encode(record: EventRecord) -> bytes:
    """The record as JSON, absent (None) fields omitted, a whole deadline value written as an integer."""
    out = {}
    for name in FIELDS:
        value = getattr(record, name)
        if value is None:
            continue
        if isinstance(value, msgspec.Struct):
            value = {k: v for k, v in msgspec.structs.asdict(value).items() if v is not None}
            if name == "deadline" and float(value["value"]).is_integer():
                value["value"] = int(value["value"])
        out[name] = value
    return msgspec.json.encode(out)


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A refused record's scrubbed copy for dossier.dlq: key, value and what was dropped or replaced."""

    key: bytes | None
    value: bytes
    redacted: str


def quarantine(
    doc: dict[str, Any], dropped: int, pseudonym: Pseudonym, changed: list[str], key_field: str
) -> Quarantined:
    """`doc` (already allowlisted) with every string that is not a plain code or a pseudonym replaced by its HMAC."""
    doc = dict(doc)
    replaced = []
    for path, value in _scalars(doc):
        if isinstance(value, str):
            suspect = not HASH.fullmatch(value) and (not CODE.fullmatch(value) or personal_reason(value) is not None)
        else:  # an identifier sent as a JSON number (a CCCD loses its leading 0)
            suspect = abs(value) >= 10**8
        if suspect:
            _set(doc, path, pseudonym(value))
            replaced.append(path)
    notes = [f"dropped {dropped} field(s) outside the allowlist"] if dropped else []
    notes += [f"pseudonymised {', '.join(changed)}"] if changed else []
    notes += [f"replaced by their HMAC: {', '.join(replaced)}"] if replaced else []
    key = doc.get(key_field)
    return Quarantined(
        key.encode() if isinstance(key, str) else None, msgspec.json.encode(doc), "; ".join(notes) or "none"
    )


@dataclass(frozen=True, slots=True)
class Refused:
    """A refused record for dossier.dlq: its scrubbed copy, the stage that refused it, the redacted reason."""

    copy: Quarantined
    stage: str  # "authorize" (the token may not write it), "validate" or "parse"
    reason: str

    def headers(self, component: str, sender: str | None) -> list[tuple[str, bytes]]:
        """wire.dlq's headers (refused before Kafka: no topic/offset), plus what was redacted and who sent it."""
        extra = [(PREFIX + "redacted", self.copy.redacted.encode())]
        if sender is not None:
            extra.append((PREFIX + "sender", sender.encode()))
        return dlq_headers(self.reason, stage=self.stage, source=component) + extra


#: The DLQ copy of a record that is not a JSON object: nothing of it (its bytes cannot be scrubbed).
UNREADABLE = Quarantined(None, b"{}", "whole record (not a JSON object)")


@dataclass(slots=True)
class Admitted:
    """The outcome for one record: the Kafka record, or what is wrong (forbidden: 403) and its DLQ copy."""

    record: tuple[bytes, bytes] | None = None
    invalid: list[Violation] = field(default_factory=list)
    forbidden: list[Violation] = field(default_factory=list)
    dlq: Quarantined | None = None

    @property
    def violations(self) -> list[Violation]:
        return [*self.forbidden, *self.invalid]

    def refusal(self) -> Refused:
        assert self.dlq is not None
        return Refused(self.dlq, "authorize" if self.forbidden else "validate", redacted_reason(self.violations))


def admit(doc: object, grant: Grant | None, pseudonym: Pseudonym, now: float, bounds: Bounds) -> Admitted:
    """One dossier event through the edge policy (see the module); `grant` None: no token binding (operator import)."""
    if not isinstance(doc, dict):
        return Admitted(invalid=[Violation("", "must be a JSON object (a dossier-event/1 record)")], dlq=UNREADABLE)
    event, dropped = shaped(doc, NESTED, FIELDS)
    invalid = [
        Violation(path, reason)
        for path, value in _scalars(event)
        if isinstance(value, str) and (reason := personal_reason(value))
    ]
    invalid += [
        Violation(name, "must be printable ASCII without blanks or control characters, at most 128 characters")
        for name in CODES
        if isinstance(event.get(name), str) and event[name] and not CODE.fullmatch(event[name])
    ]
    changed = pseudonymised(event, pseudonym, PSEUDONYMOUS)
    record = None
    try:
        parsed = decode_record(msgspec.json.encode(event))
        if isinstance(parsed, ClockTick):  # unreachable while the allowlist drops "at"; ticks are refused anyway
            raise InvalidTick([])
    except InvalidTick:
        invalid.append(Violation("schema", f"must be {EVENT_SCHEMA!r}: clock ticks come from the tick producer"))
        occurred = MERGER
    except InvalidRecord as error:
        invalid += error.violations
        occurred = _timestamp(event.get("occurred_at"))
    else:
        invalid += bounds.violations(parsed.occurred_ts, parsed.due_ts, now)
        record, occurred = parsed.record, parsed.occurred_ts
    forbidden = grant.violations(event, occurred) if grant is not None else []
    if invalid or forbidden or record is None:
        return Admitted(None, invalid, forbidden, quarantine(event, dropped, pseudonym, changed, "dossier_id"))
    return Admitted((record.dossier_id.encode(), encode(record)))


def _timestamp(value: object) -> float:
    """An event time for the merger rule of `Grant` (an unreadable one counts as after the merger)."""
    try:
        return parse_timestamp(value) if isinstance(value, str) else MERGER
    except ValueError:
        return MERGER


_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_DIGITS = re.compile(r"[0-9]{6,}")


def redacted_reason(violations: list[Violation]) -> str:
    """The DLQ `reason` header: every violation, with quoted values and long numbers blanked (they may be personal)."""
    return _DIGITS.sub("…", _QUOTED.sub("'…'", "; ".join(map(str, violations))))
