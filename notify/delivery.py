"""Sending a message through Apprise (e-mail, JSON webhooks for SMS and Zalo gateways, Telegram, ntfy ...).

One ``Apprise`` object per URL, built once; a send runs in a worker thread (Apprise is blocking). Apprise's
own retries are off: the notifier retries with its own exponential backoff and records every attempt. A
failure's reason names the channel kind and Apprise's status only, never the address (it goes to ClickHouse).
"""

from __future__ import annotations

from functools import lru_cache

import apprise

_ASSET = apprise.AppriseAsset(storage_mode="memory", async_mode=False)


def url_parses(url: str) -> bool:
    """Whether Apprise knows the URL (``motcua notify roster check``)."""
    return apprise.Apprise.instantiate(url, asset=_ASSET) is not None


@lru_cache(maxsize=4096)
def _service(url: str) -> apprise.Apprise | None:
    service = apprise.Apprise(asset=_ASSET)
    return service if service.add(url) else None


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
