"""Delivery of outbox messages and alerts: SMTP (``smtplib``) and webhooks (``urllib``).

The address of a message is handed in by the caller for the one send and never logged:
log lines name the message id only.
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.request
from email.message import EmailMessage
from typing import Any

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0


class DeliveryError(RuntimeError):
    """A message could not be delivered; the message says why (no address in it)."""


def _subject_and_body(text: str) -> tuple[str, str]:
    first, _, rest = text.partition("\n")
    if first.lower().startswith("subject:"):
        return first.split(":", 1)[1].strip(), rest.lstrip("\n")
    return "Your account", text


def send_email(host: str, port: int, sender: str, to: str, text: str, message_id: str) -> None:
    """Send one rendered email message (a leading ``Subject:`` line becomes the subject).

    Raises:
        DeliveryError: the server refused or could not be reached.
    """
    subject, body = _subject_and_body(text)
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{message_id}@payer-model>"
    msg.set_content(body)
    try:
        with smtplib.SMTP(host, port, timeout=TIMEOUT_S) as smtp:
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"message {message_id}: SMTP {host}:{port}: {exc}") from None
    log.info("delivered message %s by email", message_id)


def post_json(url: str, body: Any) -> int:
    """POST ``body`` as JSON to a webhook; returns the HTTP status.

    Raises:
        DeliveryError: the hook answered an error or could not be reached.
    """
    data = json.dumps(body, default=str).encode()
    req = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:  # noqa: S310 - configured URL
            return int(resp.status)
    except (OSError, ValueError) as exc:
        raise DeliveryError(f"webhook {url}: {exc}") from None
