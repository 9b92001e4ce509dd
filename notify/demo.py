"""Paging in ``motcua demo``: a local mailbox (aiosmtpd on 127.0.0.1, a Maildir), a demo roster whose URLs deliver
to it, and the arguments of a ``motcua notify`` child on the event clock.

The roster pages one officer and one head per unit of the simulated provinces, each province's office, and one
official on call. The simulator's officers are not on it (its ``officer`` values are not HMACs of a roster's
ids), so dossier alerts reach their unit's officers. Pages go only for the live day (``--since``), not for the
replayed history; ``motcua alerts tail --mailbox DIR`` shows them as the officials receive them.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

from dossier import catalog
from notify.roster import HEADER
from stack.services import free_port

DEMO_KEY = "motcua-demo-key: not a secret, demo only"
DIGEST_WINDOW = "10"  # wall seconds: 50 simulated minutes at the demo's x300


class DemoPaging:
    def __init__(self, logs: Path, provinces: list[str]) -> None:
        self.maildir = logs / "mailbox"
        self.roster = logs / "demo-roster.csv"
        self.port = free_port()
        lines = [list(HEADER)]
        for code in provinces:
            lines.append(self._line(f"vp-{code}", code, "province_office", f"Văn phòng UBND tỉnh {code}"))
            for i, unit in enumerate(catalog.units(code)):
                lines.append(self._line(f"cb-{code}-{i:02d}", unit.code, "officer", f"Cán bộ một cửa {i + 1}"))
                lines.append(self._line(f"ld-{code}-{i:02d}", unit.code, "unit_head", f"Lãnh đạo {unit.name}"))
        lines.append(self._line("truc-ban", "*", "on_call", "Cán bộ trực hệ thống"))
        with self.roster.open("w", encoding="utf-8", newline="") as out:
            csv.writer(out).writerows(lines)
        self._controller = Controller(Mailbox(self.maildir), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def _line(self, official_id: str, unit: str, role: str, name: str) -> list[str]:
        url = f"mailto://127.0.0.1:{self.port}?to={official_id}@motcua.demo&from=notify@motcua.demo&format=text"
        return [official_id, unit, role, name, url]

    def args(self, topic_prefix: str, database: str, since: str) -> list[str]:
        return ["notify", "--roster", str(self.roster), "--clock", "event", "--since", since, "--digest-window",
                DIGEST_WINDOW, "--topic-prefix", topic_prefix, "--group", f"{topic_prefix}motcua-notify",
                "--database", database, "--port", str(free_port())]

    def env(self) -> dict[str, str]:
        """The demo key unless a real one is configured (the roster's ids are pseudonymised with it)."""
        configured = os.environ.get("MOTCUA_HMAC_KEY") or os.environ.get("MOTCUA_HMAC_KEY_FILE")
        return {} if configured else {"MOTCUA_HMAC_KEY": DEMO_KEY}

    def stop(self) -> None:
        self._controller.stop()
