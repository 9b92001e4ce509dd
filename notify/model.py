"""The notifier's plain values: what it pages about (an alert), whom (a contact of the roster), and a page's state.

A *page* is one alert sent to one official, keyed by (``alert_id``, ``recipient``); the recipient is the HMAC
pseudonym of the official's id, the same pseudonym the producers put in the events' ``officer`` field. Pages
are what the ``notifications`` table stores, one row per state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["officer", "unit_head", "province_office", "on_call"]
ROLES: tuple[Role, ...] = ("officer", "unit_head", "province_office", "on_call")

#: Alerts of Grafana's rules about the pipeline itself (no unit): they go to whoever is on call.
PIPELINE = "pipeline"

Status = Literal["held", "queued", "sent", "acked", "resolved", "escalated", "failed", "expired", "unroutable"]
#: Statuses after which nothing more happens to a page (a ``sent`` page may still escalate).
FINAL: frozenset[str] = frozenset({"acked", "resolved", "escalated", "failed", "expired", "unroutable"})


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert to page about: a ``dossier-alert/1`` record or a Grafana alert. No personal data."""

    alert_id: str
    kind: str
    at: float  # event time, epoch seconds
    province: str = ""
    unit: str = ""
    dossier_id: str = ""
    officer: str = ""  # pseudonym of the responsible official
    procedure_code: str = ""
    due_at: float | None = None
    summary: str = ""  # unit and pipeline alerts: what happened, in Vietnamese


@dataclass(frozen=True, slots=True)
class Contact:
    """One line of the roster, its ``official_id`` replaced by its pseudonym. ``url`` is an Apprise URL."""

    recipient: str
    unit: str
    role: Role
    name: str
    url: str

    @property
    def channel(self) -> str:
        """The kind of channel (the Apprise URL's scheme: mailto, json, tgram, ntfy, ...), never the address."""
        return self.url.split("://", 1)[0].lower() if "://" in self.url else ""


@dataclass(slots=True)
class Page:
    """One alert to one official, and where its delivery stands.

    ``release_at``, ``sent_at`` and ``acked_at`` are on the notifier's clock (event time with ``--clock
    event``); ``ready_wall``, ``retry_wall``, ``sending`` and ``recorded`` are the delivery loop's
    bookkeeping, never stored: after a restart a page is simply ready again.
    """

    alert: Alert
    contact: Contact | None  # None: the alert reached no one (expired, or no route at all)
    route: str  # officer | unit_officers | unit_head | on_call | fallback | escalation | expired | none
    level: int  # 0 officer, 1 unit head, 2 province office, 3 on call
    owner: int  # partition of the alerts topic (and of the inbox) whose consumer owns the page
    status: Status
    release_at: float
    attempts: int = 0
    sent_at: float | None = None
    acked_at: float | None = None
    acked_by: str = ""
    escalated_to: str = ""
    message_id: str = ""
    error: str = ""
    ready_wall: float | None = None
    retry_wall: float = 0.0
    sending: bool = False
    recorded: bool = True  # False from its creation until its first row is in ClickHouse: it may not go before

    @property
    def recipient(self) -> str:
        return self.contact.recipient if self.contact is not None else ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.alert.alert_id, self.recipient)
