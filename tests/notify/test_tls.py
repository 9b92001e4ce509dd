"""Apprise's e-mail over TLS with the notifier's shared TLS contexts (``notify.delivery``): a certificate the system
does not trust is refused unless the URL says ``verify=no``, so sharing the contexts keeps Apprise's checks."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest
import trustme
from aiosmtpd.controller import Controller

from notify import delivery
from tests.notify.receivers import Mailbox, _Handler


@pytest.fixture
def tls_mailbox() -> Iterator[Mailbox]:
    """An SMTP server on 127.0.0.1 offering STARTTLS with a certificate of a throwaway CA."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    box = Mailbox()
    controller = Controller(_Handler(box), hostname="127.0.0.1", port=box.port, tls_context=context)
    controller.start()
    yield box
    controller.stop()


def test_starttls_checks_the_certificate_unless_told_not_to(tls_mailbox: Mailbox) -> None:
    url = (f"mailtos://127.0.0.1:{tls_mailbox.port}?to=an@example.org&from=notify@example.org&mode=starttls"
           "&format=text")
    assert delivery.send(url, "Tiêu đề", "ref: a\n") == "mailtos: not accepted (failure)"
    assert tls_mailbox.snapshot() == []
    assert delivery.send(url + "&verify=no", "Tiêu đề", "ref: b\n") == ""
    assert [r.refs for r in tls_mailbox.snapshot()] == [["b"]]


def test_plain_smtp_never_builds_a_tls_context(mailbox: Mailbox) -> None:
    delivery._tls_context.cache_clear()
    assert delivery.send(mailbox.url("an@example.org"), "Tiêu đề", "ref: c\n") == ""
    assert delivery._tls_context.cache_info().currsize == 0
    assert [r.refs for r in mailbox.snapshot()] == [["c"]]
