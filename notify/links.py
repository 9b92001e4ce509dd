"""Signed acknowledgement links (pure): ``<public url>/ack?m=<message id>&r=<recipient>&s=<signature>``.

The signature is an HMAC-SHA256 of the message id and the recipient's pseudonym under a key derived from the
pseudonymisation key (no second secret to manage): whoever holds the link can acknowledge that message's
alerts as that recipient, and no one can forge a link for another message or recipient.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from urllib.parse import urlencode

_KEY_LABEL = "motcua notify: acknowledgement links"


def link_key(pseudonymise: Callable[[str], str]) -> bytes:
    """The links' key: the HMAC of a fixed label under the pseudonymisation key."""
    return pseudonymise(_KEY_LABEL).encode()


def signature(key: bytes, message_id: str, recipient: str) -> str:
    return hmac.new(key, f"{message_id}\n{recipient}".encode(), hashlib.sha256).hexdigest()[:32]


def ack_link(base_url: str, key: bytes, message_id: str, recipient: str) -> str:
    query = urlencode({"m": message_id, "r": recipient, "s": signature(key, message_id, recipient)})
    return f"{base_url.rstrip('/')}/ack?{query}"


def verify(key: bytes, message_id: str, recipient: str, given: str) -> bool:
    return hmac.compare_digest(signature(key, message_id, recipient), given)
