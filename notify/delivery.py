"""Sending a message through Apprise (e-mail, JSON webhooks for SMS and Zalo gateways, Telegram, ntfy ...).

One ``Apprise`` object per URL, built once; a send runs in a worker thread (Apprise is blocking). Apprise's
own retries are off: the notifier retries with its own exponential backoff and records every attempt. A
failure's reason names the channel kind and Apprise's status only, never the address (it goes to ClickHouse).
Apprise's e-mail sessions share their TLS contexts (``_LazyTLSContext``), as ``wire.runtime`` makes gzip cheaper
in the Kafka clients: the same protocol, a fraction of the CPU.
"""

from __future__ import annotations

import ssl
from functools import cache, lru_cache
from types import SimpleNamespace
from typing import Any

import apprise
from apprise.plugins.email import smtp as apprise_smtp

_ASSET = apprise.AppriseAsset(storage_mode="memory", async_mode=False)


@cache
def _tls_context(check_hostname: bool, verify_mode: ssl.VerifyMode) -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = check_hostname, verify_mode
    return context


class _LazyTLSContext:
    """What Apprise's SMTP session gets for ``ssl.create_default_context()``.

    Apprise builds a default context, loading the system's CA bundle, for every e-mail it sends, TLS or not:
    24 ms of CPU a message here, five times what smtplib spends sending it (bench/bench_notify.py). This
    keeps the settings Apprise makes on it (``check_hostname``, ``verify_mode``) and, when the session does
    use TLS, wraps the socket with a context of those settings built once per process.
    """

    def __init__(self) -> None:
        self.check_hostname = True
        self.verify_mode = ssl.CERT_REQUIRED

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        return _tls_context(self.check_hostname, self.verify_mode).wrap_socket(*args, **kwargs)


apprise_smtp.ssl = SimpleNamespace(create_default_context=_LazyTLSContext, CERT_NONE=ssl.CERT_NONE)  # type: ignore[assignment]


def url_parses(url: str) -> bool:
    """Whether Apprise knows the URL (``motcua notify roster check``)."""
    return apprise.Apprise.instantiate(url, asset=_ASSET) is not None


@lru_cache(maxsize=4096)
def _service(url: str) -> apprise.Apprise | None:
    """The URL's Apprise service, its throttle off: Apprise sleeps in the sending thread when a service is
    called again within 5.5 s, which would hold a sender for everyone; digests pace each recipient instead."""
    service = apprise.Apprise(asset=_ASSET)
    if not service.add(url):
        return None
    for plugin in service:
        plugin.request_rate_per_sec = 0
    return service


def send(url: str, title: str, body: str) -> str:
    """Send one message; '' when the channel accepted it, else why not (no address in it)."""
    channel = url.split("://", 1)[0] if "://" in url else "?"
    if not url:
        return "no notify_url: the official is no longer on the roster"
    service = _service(url)
    if service is None:
        return f"the {channel} URL does not parse"
    try:
        result = service.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT)
    except Exception as error:  # a plugin bug must fail this page, not the notifier
        return f"{channel}: {type(error).__name__}"
    if result:
        return ""
    status = getattr(result, "status", None)
    return f"{channel}: not accepted ({getattr(status, 'name', 'failure').lower()})"
