"""Real receivers for the notifier's tests, on 127.0.0.1: an SMTP server (aiosmtpd) and a JSON webhook (aiohttp).

Both keep what arrived, parsed into ``Received`` (recipient, subject, ``ref:`` lines), so tests count deliveries
per (ref, recipient). The SMTP server can be stopped and started again on the same port (an outage), and can be
told to accept only so many messages: the next ones wait in DATA, unanswered, which is a delivery "in the
middle"; a client that dies meanwhile has its message dropped (aiosmtpd cancels the transaction when the
connection is lost).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller

from stack.services import free_port

REF = re.compile(r"^ref: (\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class Received:
    to: str
    subject: str
    body: str

    @property
    def refs(self) -> list[str]:
        return REF.findall(self.body)


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook
        self.box.waiting += 1
        try:
            while not self.box.take_permit():
                await asyncio.sleep(0.02)
        finally:
            self.box.waiting -= 1
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        part = message.get_body(preferencelist=("plain",))
        body = part.get_content().replace("\r\n", "\n") if part is not None else ""
        with self.box.lock:
            self.box.received += [Received(to, str(message["Subject"]), body) for to in envelope.rcpt_tos]
        return "250 OK"


class Mailbox:
    """An SMTP server on 127.0.0.1 that keeps every message it accepted."""

    def __init__(self) -> None:
        self.port = free_port()
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.permits: int | None = None  # messages it may still accept (None: any number)
        self.waiting = 0  # messages whose DATA waits for a permit: deliveries in the middle
        self._controller: Controller | None = None

    def url(self, address: str) -> str:
        return f"mailto://127.0.0.1:{self.port}?to={address}&from=notify@motcua.test&format=text"

    def allow(self, permits: int | None) -> None:
        """Accept only this many more messages (the others wait in DATA); None: accept everything."""
        with self.lock:
            self.permits = permits

    def take_permit(self) -> bool:
        with self.lock:
            if self.permits is None:
                return True
            if self.permits > 0:
                self.permits -= 1
                return True
            return False

    def start(self) -> Mailbox:
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self.allow(None)
            self._controller.stop()
            self._controller = None

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.received)


class Webhook:
    """An HTTP server on 127.0.0.1 taking Apprise's JSON posts (``json://127.0.0.1:port/hook``)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def url(self, name: str) -> str:
        return f"json://127.0.0.1:{self.port}/hook/{name}"

    async def _hook(self, request: web.Request) -> web.Response:
        payload = await request.json()
        with self.lock:
            self.received.append(Received(request.match_info["name"], payload.get("title", ""),
                                          payload.get("message", "")))
        return web.json_response({"ok": True})

    def start(self) -> Webhook:
        async def serve() -> None:
            app = web.Application()
            app.router.add_post("/hook/{name}", self._hook)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

        self._thread.start()
        asyncio.run_coroutine_threadsafe(serve(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.received)


def deliveries(*receivers: Mailbox | Webhook) -> Counter[tuple[str, str]]:
    """How many times each (ref, recipient) arrived, over every receiver."""
    return Counter((ref, r.to) for box in receivers for r in box.snapshot() for ref in r.refs)


def wait_until(condition: Callable[[], bool], timeout: float, what: str, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)
