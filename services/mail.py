"""Outgoing email: SMTP when configured, otherwise an outbox folder under the data directory.

Sending runs in a worker thread so a slow mail server never blocks a request. Message bodies
can hold secrets (reset links), so only recipients and file names are logged.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import uuid
from email.message import EmailMessage
from pathlib import Path

from coursehub.services.models import utcnow
from coursehub.services.settings import Settings

log = logging.getLogger(__name__)


def compose(settings: Settings, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message


def deliver(settings: Settings, message: EmailMessage) -> Path | None:
    """Send ``message``; returns the outbox file when no SMTP server is configured."""
    if settings.smtp is None:
        settings.outbox_dir.mkdir(parents=True, exist_ok=True)
        path = settings.outbox_dir / f"{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.eml"
        path.write_bytes(bytes(message))
        log.info("No SMTP server configured: mail to %s saved to %s", message["To"], path)
        return path
    smtp = settings.smtp
    with smtplib.SMTP(smtp.host, smtp.port, timeout=30) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.username:
            client.login(smtp.username, smtp.password)
        client.send_message(message)
    log.info("Mail to %s sent through %s", message["To"], smtp.host)
    return None


async def send_later(settings: Settings, message: EmailMessage) -> None:
    """Deliver in a thread; failures are logged, never raised into the request."""
    try:
        await asyncio.to_thread(deliver, settings, message)
    except (OSError, smtplib.SMTPException):
        log.exception("Could not send mail to %s", message["To"])
