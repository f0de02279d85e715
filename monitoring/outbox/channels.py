"""Delivery channels. A channel turns one rendered message into something a person receives.

E-mail goes through Django's e-mail backend (SMTP in production). Another channel, such as SMS,
is a class with the same two methods, listed in settings.NOTIFICATION_CHANNELS under the
Notification.Channel value it serves.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from functools import cache
from typing import Protocol
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class OutgoingMessage:
    subject: str
    body: str
    # The same for every attempt at one message, so a receiving system can spot a repeat
    # after a crash (see monitoring.outbox.delivery).
    reference: str


class DeliveryError(Exception):
    """The message did not go; `permanent` when retrying cannot help (no address, or the mail
    server refused the address for good)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Channel(Protocol):
    def address_of(self, recipient) -> str:
        """The recipient's address on this channel, or "" when they have none."""

    def send(self, message: OutgoingMessage, *, to: str) -> None:
        """Send or raise DeliveryError."""


class EmailChannel:
    def address_of(self, recipient) -> str:
        return (recipient.email or "").strip()

    def send(self, message: OutgoingMessage, *, to: str) -> None:
        email = EmailMessage(
            subject=message.subject,
            body=message.body,
            to=[to],
            headers={
                "X-Monitoring-Reference": message.reference,
                # Derived from the reference, not made afresh per attempt, so mail clients and
                # servers that deduplicate on Message-ID fold a repeat into the first copy.
                "Message-ID": f"<{message.reference}@{_message_domain()}>",
            },
        )
        try:
            sent = email.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as error:
            # A 5xx for the address (no such mailbox) will be the same answer next time: the
            # fallback chain should take over now, not after hours of retries. A 4xx may pass.
            codes = [code for code, _ in error.recipients.values()]
            permanent = bool(codes) and all(code >= 500 for code in codes)
            raise DeliveryError(_refusal(error), permanent=permanent) from error
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(f"{type(error).__name__}: {error}") from error
        if sent != 1:
            raise DeliveryError("The e-mail backend reported nothing sent.")


def _refusal(error: smtplib.SMTPRecipientsRefused) -> str:
    answers = "; ".join(
        f"{address}: {code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"
        for address, (code, reply) in error.recipients.items()
    )
    return f"The mail server refused the address ({answers})."


def _message_domain() -> str:
    return urlsplit(settings.SITE_URL).hostname or "localhost"


@cache
def channel_for(name: str) -> Channel:
    try:
        path = settings.NOTIFICATION_CHANNELS[name]
    except KeyError:
        raise DeliveryError(f"No channel is configured for {name!r}.", permanent=True) from None
    return import_string(path)()
