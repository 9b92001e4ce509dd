"""The roster: who is paged, read from a CSV file kept outside the repository (officials' contacts are personal data).

Header ``official_id,unit,role,name,notify_url``. ``official_id`` is the one-stop system's id of the official;
it is replaced at once by its HMAC pseudonym (``producers.pseudonym``), the value the alerts carry in
``officer``, and never leaves the process otherwise. ``unit`` is a unit code, or a province code for
``province_office`` (and for ``on_call``, which also takes ``*``: on call for every province). ``notify_url`` is
an Apprise URL (``mailto://``, ``json://``, ``tgram://``, ``ntfy://`` ...). Names and URLs go only to the
official's own channel; problems are reported by line number, never by quoting a contact.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from notify.model import ROLES, Contact, Role

HEADER = ("official_id", "unit", "role", "name", "notify_url")
EVERY_PROVINCE = "*"


@dataclass(frozen=True, slots=True)
class Problem:
    line: int  # 0: about the whole file
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass(frozen=True, slots=True)
class Entry:
    """A roster line as read, before pseudonymisation."""

    line: int
    official_id: str
    unit: str
    role: Role
    name: str
    notify_url: str


class RosterError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems


def read_entries(text: str) -> tuple[list[Entry], list[Problem]]:
    """Every well-formed line, and a problem for each other one (header, field count, empty field, role)."""
    rows = list(csv.reader(text.lstrip("\ufeff").splitlines()))
    if not rows or tuple(c.strip() for c in rows[0]) != HEADER:
        return [], [Problem(1, f"the header must be {','.join(HEADER)}")]
    entries, problems = [], []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(HEADER):
            problems.append(Problem(number, f"{len(row)} fields, expected {len(HEADER)}"))
            continue
        values = dict(zip(HEADER, (cell.strip() for cell in row), strict=True))
        empty = [name for name, value in values.items() if not value]
        if empty:
            problems.append(Problem(number, f"empty {', '.join(empty)}"))
            continue
        if values["role"] not in ROLES:
            problems.append(Problem(number, f"role {values['role']!r} is not one of {', '.join(ROLES)}"))
            continue
        entries.append(Entry(number, values["official_id"], values["unit"], values["role"],  # type: ignore[arg-type]
                             values["name"], values["notify_url"]))
    return entries, problems


class Roster:
    """The contacts, indexed the way routing asks: by pseudonym, and by role and unit (or province)."""

    def __init__(self, contacts: Iterable[Contact]) -> None:
        self.contacts = tuple(contacts)
        self._by_recipient: dict[str, list[Contact]] = defaultdict(list)
        self._by_role_unit: dict[tuple[str, str], list[Contact]] = defaultdict(list)
        for c in self.contacts:
            self._by_recipient[c.recipient].append(c)
            self._by_role_unit[(c.role, c.unit)].append(c)

    @classmethod
    def from_entries(cls, entries: Iterable[Entry], pseudonymise: Callable[[str], str]) -> Roster:
        return cls(Contact(pseudonymise(e.official_id), e.unit, e.role, e.name, e.notify_url) for e in entries)

    @classmethod
    def load(cls, path: Path, pseudonymise: Callable[[str], str]) -> Roster:
        """The roster of a file, or ``RosterError`` naming every malformed line."""
        entries, problems = read_entries(path.read_text(encoding="utf-8"))
        if problems:
            raise RosterError(problems)
        return cls.from_entries(entries, pseudonymise)

    def officer(self, pseudonym: str) -> Contact | None:
        """The official an alert's ``officer`` names, preferably by their ``officer`` line."""
        found = self._by_recipient.get(pseudonym, [])
        return next((c for c in found if c.role == "officer"), found[0] if found else None)

    def of_role(self, role: Role, unit: str) -> tuple[Contact, ...]:
        return tuple(self._by_role_unit.get((role, unit), ()))

    def on_call(self, province: str) -> tuple[Contact, ...]:
        """Who is on call for a province (or for every one); every on-call contact when the province is unknown."""
        if not province:
            return tuple(c for c in self.contacts if c.role == "on_call")
        return (*self.of_role("on_call", province), *self.of_role("on_call", EVERY_PROVINCE))

    def contact(self, recipient: str, role: str) -> Contact | None:
        """The line of ``recipient`` in ``role`` (restored pages find their URL again), or any line of theirs."""
        found = self._by_recipient.get(recipient, [])
        return next((c for c in found if c.role == role), found[0] if found else None)

    def units(self, role: Role) -> set[str]:
        return {unit for (r, unit) in self._by_role_unit if r == role}


@dataclass(frozen=True, slots=True)
class Seen:
    """A (kind, province, unit) the alerts have carried: something the roster must be able to route."""

    kind: str
    province: str
    unit: str
    about_dossier: bool


def check_roster(
    entries: list[Entry],
    problems: list[Problem],
    url_parses: Callable[[str], bool],
    units: set[str],
    provinces: set[str],
    seen: Iterable[Seen],
) -> list[Problem]:
    """Every problem of a roster: malformed lines, URLs that do not parse, unknown units or provinces,
    duplicate lines, and units or provinces seen in alerts that no line routes (they would reach only the
    fallback), and no one on call for the pipeline's own alerts."""
    found = list(problems)
    keys: dict[tuple[str, str, str], int] = {}
    for e in entries:
        if not url_parses(e.notify_url):
            scheme = e.notify_url.split("://", 1)[0] if "://" in e.notify_url else "(none)"
            found.append(Problem(e.line, f"notify_url does not parse as an Apprise URL (scheme {scheme})"))
        if e.role in ("officer", "unit_head") and e.unit not in units:
            found.append(Problem(e.line, f"unknown unit {e.unit} for role {e.role}"))
        if e.role == "province_office" and e.unit not in provinces:
            found.append(Problem(e.line, f"unknown province {e.unit} for role province_office"))
        if e.role == "on_call" and e.unit not in provinces | {EVERY_PROVINCE}:
            found.append(Problem(e.line, f"on_call's unit must be a province code or {EVERY_PROVINCE}, not {e.unit}"))
        key = (e.official_id, e.role, e.unit)
        if key in keys:
            found.append(Problem(e.line, f"same official, role and unit as line {keys[key]}"))
        keys.setdefault(key, e.line)
    by_role: dict[str, set[str]] = defaultdict(set)
    for e in entries:
        by_role[e.role].add(e.unit)
    missing: set[str] = set()
    for s in seen:
        if s.about_dossier and s.unit not in by_role["officer"] | by_role["unit_head"]:
            missing.add(f"unit {s.unit} (province {s.province}) has dossier alerts but no officer or unit_head")
        if not s.about_dossier and s.unit and s.unit not in by_role["unit_head"]:
            missing.add(f"unit {s.unit} (province {s.province}) has {s.kind} alerts but no unit_head")
        if s.province and s.province not in by_role["province_office"]:
            missing.add(f"province {s.province} has alerts but no province_office (the fallback)")
    found += [Problem(0, m) for m in sorted(missing)]
    if not by_role["on_call"]:
        found.append(Problem(0, "no on_call line: the pipeline's own alerts (Grafana) would reach no one"))
    return found
