"""Plain values of the notifier's tests: a small roster of one province, alerts, instants."""

from __future__ import annotations

from dossier.contract import parse_timestamp
from notify.model import Alert, Contact
from notify.roster import Roster

PROVINCE = "79"
JUSTICE = "000.00.01.H79"  # Sở Tư pháp: two officers and a head
COMMUNE = "000.01.00.H79"  # a commune with a head only: dossier alerts have no route there
FINANCE = "000.00.02.H79"  # nobody on the roster


def at(text: str) -> float:
    """Epoch seconds of a local (+07:00) instant written ``2025-07-08T09:00``."""
    return parse_timestamp(f"{text}:00+07:00" if len(text) == 16 else text)


def contact(recipient: str, unit: str, role: str) -> Contact:
    return Contact(recipient, unit, role, f"Cán bộ {recipient}", f"mailto://{recipient}@example.org")  # type: ignore[arg-type]


ROSTER = Roster([
    contact("an", JUSTICE, "officer"),
    contact("binh", JUSTICE, "officer"),
    contact("chi", JUSTICE, "unit_head"),
    contact("dung", COMMUNE, "unit_head"),
    contact("giang", PROVINCE, "province_office"),
    contact("hai", "*", "on_call"),
])


def due_soon(dossier: str, officer: str = "", unit: str = JUSTICE, when: str = "2025-07-08T09:00",
             due: str = "2025-07-09T09:00") -> Alert:
    return Alert(f"due_soon:{dossier}:{when}", "due_soon", at(when), PROVINCE, unit, dossier, officer, "1.001193",
                 at(due))


def unit_alert(unit: str, when: str = "2025-07-08T09:00") -> Alert:
    return Alert(f"unit_overdue_rate:{unit}:{when[:10]}", "unit_overdue_rate", at(when), PROVINCE, unit,
                 summary="tỷ lệ hồ sơ trễ hạn ngày 08/07/2025 là 30%, vượt ngưỡng 20%")
