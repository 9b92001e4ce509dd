"""What a page says, in Vietnamese (pure).

A message lists its alerts grouped by kind: for a dossier, its code, the procedure's name, the unit, the due
instant in local time and what to do (send the apology letter, or hand the dossier on); for a unit or the
pipeline, what happened. It ends with how to acknowledge (a signed link, or ``motcua alerts ack``) and one
``ref: <alert_id>`` line per alert it covers. It carries no citizen data: alerts hold none.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from functools import cache

from dossier import catalog
from dossier.calendar import LOCAL_TZ
from notify.model import PIPELINE, Contact, Page

#: (noun phrase after the count, what to do) per kind.
KINDS: dict[str, tuple[str, str]] = {
    "due_soon": (
        "hồ sơ đến hạn hôm nay",
        "Việc cần làm: trả kết quả trong hôm nay; nếu không kịp, gửi thư xin lỗi công dân và hẹn lại ngày trả "
        "kết quả trước khi hết hạn, hoặc chuyển hồ sơ cho người có thẩm quyền xử lý tiếp.",
    ),
    "overdue": (
        "hồ sơ đã quá hạn",
        "Việc cần làm: gửi ngay thư xin lỗi công dân và hẹn lại ngày trả kết quả, hoặc chuyển hồ sơ cho người "
        "có thẩm quyền xử lý tiếp.",
    ),
    "unit_overdue_rate": (
        "cảnh báo tỷ lệ trễ hạn của đơn vị",
        "Việc cần làm: rà soát các hồ sơ tồn và trễ hạn của đơn vị, phân công xử lý.",
    ),
    "unit_on_time_rate": (
        "cảnh báo tỷ lệ đúng hạn của đơn vị trong tháng",
        "Việc cần làm: rà soát các hồ sơ tồn và trễ hạn của đơn vị, phân công xử lý.",
    ),
    PIPELINE: (
        "cảnh báo hệ thống giám sát",
        "Việc cần làm: kiểm tra hệ thống (motcua stack status, nhật ký các dịch vụ, bảng Sức khỏe hệ thống).",
    ),
}
ESCALATED = ("Chuyển cấp: các cảnh báo dưới đây chưa được xác nhận trong thời hạn, hoặc không gửi được cho người "
             "phụ trách.")


@cache
def _unit_names() -> dict[str, str]:
    names = {p.code: p.name for p in catalog.provinces()}
    for p in catalog.provinces():
        names.update((u.code, u.name) for u in catalog.units(p.code, communes=99))
    return names


@cache
def _procedure_names() -> dict[str, str]:
    return {p.code: p.name for p in catalog.procedures()}


def unit_label(code: str) -> str:
    name = _unit_names().get(code)
    return f"{name} ({code})" if name else code


def local_time(ts: float) -> str:
    """``10:00 ngày 09/07/2025`` (Asia/Ho_Chi_Minh)."""
    return datetime.fromtimestamp(ts, LOCAL_TZ).strftime("%H:%M ngày %d/%m/%Y")


def _kind_phrase(kind: str) -> tuple[str, str]:
    return KINDS.get(kind, (f"cảnh báo {kind}", "Việc cần làm: kiểm tra và xử lý."))


def _line(page: Page) -> str:
    a = page.alert
    if a.dossier_id:
        procedure = _procedure_names().get(a.procedure_code, "")
        what = f"{procedure} ({a.procedure_code})" if procedure else (a.procedure_code or "thủ tục không rõ")
        due = local_time(a.due_at) if a.due_at is not None else "không rõ"
        return f"- Hồ sơ {a.dossier_id}: {what}; đơn vị: {unit_label(a.unit)}; hạn trả kết quả: {due}."
    where = unit_label(a.unit) if a.unit else "Hệ thống"
    return f"- {where}: {a.summary or 'cảnh báo'} (lúc {local_time(a.at)})."


def title(pages: Sequence[Page]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for p in pages:
        counts[p.alert.kind] += 1
    parts = ", ".join(f"{n} {_kind_phrase(kind)[0]}" for kind, n in sorted(counts.items()))
    prefix = "Chuyển cấp: " if any(p.route == "escalation" for p in pages) else ""
    return f"[motcua] {prefix}{parts}"


def render(contact: Contact, pages: Sequence[Page], ack_link: str) -> tuple[str, str]:
    """(title, body) of the message carrying ``pages`` to ``contact``."""
    lines = [f"Kính gửi {contact.name},", ""]
    if any(p.route == "escalation" for p in pages):
        lines += [ESCALATED, ""]
    by_kind: dict[str, list[Page]] = defaultdict(list)
    for p in pages:
        by_kind[p.alert.kind].append(p)
    for kind, group in sorted(by_kind.items()):
        noun, action = _kind_phrase(kind)
        lines.append(f"{len(group)} {noun}:")
        lines += [_line(p) for p in group]
        lines += [action, ""]
    first = pages[0].alert.alert_id
    lines += [
        f"Xác nhận đã nhận (dừng chuyển cấp): {ack_link}",
        f"hoặc chạy: motcua alerts ack <ref>   (ví dụ: motcua alerts ack '{first}')",
        "",
        *(f"ref: {p.alert.alert_id}" for p in pages),
    ]
    return title(pages), "\n".join(lines) + "\n"


def message_id(recipient: str, pages: Sequence[Page]) -> str:
    """A stable id of a message: its recipient and the alerts it covers."""
    text = recipient + "\n" + "\n".join(sorted(p.alert.alert_id for p in pages))
    return hashlib.sha256(text.encode()).hexdigest()[:24]
