"""``services.mail``: outgoing email goes through SMTP when one is configured, else into an
outbox folder under the data directory (one ``.eml`` file a message); sending in the
background logs a failure instead of raising it into the request."""

from __future__ import annotations

import email
import logging
from pathlib import Path

from aiosmtpd.controller import Controller

from coursehub.services import mail
from coursehub.services.settings import Settings, SmtpSettings
from tests.platform import free_port


class Inbox:
    def __init__(self) -> None:
        self.received: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.received.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def settings(tmp_path: Path, smtp: SmtpSettings | None = None) -> Settings:
    return Settings(
        database_url="",
        redis_url="",
        data_dir=tmp_path,
        mail_from="CourseHub <courses@uni.example>",
        smtp=smtp,
    )


def test_without_an_smtp_server_a_message_is_kept_in_the_outbox(tmp_path):
    config = settings(tmp_path)
    message = mail.compose(config, "ada@uni.example", "Reset your password", "The link: …")
    assert (message["From"], message["To"]) == (
        "CourseHub <courses@uni.example>",
        "ada@uni.example",
    )
    kept = mail.deliver(config, message)
    assert kept is not None and kept.parent == config.outbox_dir and kept.suffix == ".eml"
    again = email.message_from_bytes(kept.read_bytes())
    assert again["Subject"] == "Reset your password"
    assert "The link" in again.get_payload(decode=True).decode()


def test_with_an_smtp_server_a_message_is_sent_there(tmp_path):
    inbox, port = Inbox(), free_port()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    try:
        config = settings(tmp_path, SmtpSettings(host="127.0.0.1", port=port, starttls=False))
        assert mail.deliver(config, mail.compose(config, "bob@uni.example", "Hi", "Body")) is None
    finally:
        server.stop()
    [got] = inbox.received
    assert (got["To"], got["Subject"]) == ("bob@uni.example", "Hi")
    assert not config.outbox_dir.exists()


async def test_a_failure_in_the_background_is_logged_not_raised(tmp_path, caplog):
    closed = SmtpSettings(host="127.0.0.1", port=free_port(), starttls=False)
    config = settings(tmp_path, closed)
    with caplog.at_level(logging.ERROR, logger=mail.log.name):
        await mail.send_later(config, mail.compose(config, "cy@uni.example", "Hi", "Secret"))
    assert "Could not send mail to cy@uni.example" in caplog.text
    assert "Secret" not in caplog.text  # bodies may hold secrets
