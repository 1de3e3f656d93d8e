"""Deleting an account in the database alone, in one transaction (the story through the
running CourseHub is in test_privacy_deletion): every row only the person had is gone, no
text, JSON or bytes column still carries their name or address, the grade stays for the
course record, the payment stays as an accounting record without the address, and the
certificate stays revoked without name, PDF or credential."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from coursehub.services.models import (
    Account,
    Certificate,
    Course,
    Grade,
    Notification,
    Profile,
    SignIn,
)
from coursehub.services.models.payments import Payment
from coursehub.services.privacy import deletion
from coursehub.services.privacy.personal_data import Handling, handled
from tests.test_my_data import arrange_what_others_rely_on, person, rows_carrying


def bytes_carrying(db: Callable[[], Session], *secrets_: str) -> list[str]:
    """Every table.column holding bytes (pictures, PDFs, notebooks) in which any of
    ``secrets_`` appears."""
    found = []
    with db() as session:
        columns = session.execute(
            text(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND data_type = 'bytea'"
            )
        ).all()
        for table, column in columns:
            for secret in secrets_:
                hits = session.scalar(
                    text(
                        f'SELECT count(*) FROM "{table}" WHERE position(:secret IN "{column}") > 0'
                    ),
                    {"secret": secret.encode()},
                )
                if hits:
                    found.append(f"{table}.{column}")
    return found


def counts_of_mine(db: Callable[[], Session], me: Account) -> dict[str, int]:
    """How many rows of each table deleted with an account are mine."""
    found = {}
    with db() as session:
        for table, column in handled(Handling.DELETED):
            found[table] = session.scalar(
                text(f'SELECT count(*) FROM "{table}" WHERE "{column}" = :id'), {"id": me.id}
            )
    return found


async def test_one_transaction_deletes_what_is_mine_and_anonymises_what_is_kept(
    sessions, db, tmp_path: Path
):
    me = person(db, "Philippa Quennell-Ashby")
    kept = arrange_what_others_rely_on(db, me)
    with db() as session:
        course_id = session.scalar(
            text("SELECT course_id FROM enrollments WHERE account_id = :id"), {"id": me.id}
        )
        session.add_all(
            [
                Profile(account_id=me.id, bio=f"{me.name} writes here", pronouns="she/her"),
                SignIn(account_id=me.id, method="password", address="203.0.113.9"),
                Notification(account_id=me.id, kind="enrolled", payload={"to": me.email}),
                Payment(
                    provider="stripe",
                    checkout_id=f"cs_test_{secrets.token_hex(8)}",
                    payment_ref=f"pi_{secrets.token_hex(8)}",
                    account_id=me.id,
                    course_id=course_id,
                    currency="usd",
                    amount_cents=2500,
                    email=me.email or "",
                    course_title="Loops",
                ),
                Certificate(
                    public_id=secrets.token_urlsafe(12),
                    course_id=course_id,
                    account_id=me.id,
                    holder_name=me.name,
                    course_title="Loops",
                    title="Certificate",
                    pdf=b"%PDF awarded to " + me.name.encode(),
                    credential={"name": me.name},
                ),
            ]
        )
        session.execute(
            text(
                "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status) "
                "VALUES ('privacy', 'a_finished_job', CAST(:args AS jsonb), 'succeeded')"
            ),
            {"args": json.dumps({"to": me.email})},
        )
        session.commit()
    assert rows_carrying(db, me.name, me.email or "")
    assert bytes_carrying(db, me.name)
    before = counts_of_mine(db, me)
    assert before["profiles"] == before["sign_ins"] == 1

    async with sessions() as session:
        account = await session.get_one(Account, me.id)
        gone = await deletion.delete_account(session, account, tmp_path / "uploads")
        await session.commit()

    assert gone.old_username == me.username and me.email in gone.secrets
    assert rows_carrying(db, me.name, me.email or "") == []
    assert bytes_carrying(db, me.name, me.email or "") == []
    assert [table for table, n in counts_of_mine(db, me).items() if n] == []
    with db() as session:
        assert session.get_one(Grade, kept["grade"]).final_score == 7
        payment = session.scalar(select(Payment).where(Payment.account_id == me.id))
        assert payment is not None and (payment.amount_cents, payment.email) == (2500, "")
        certificate = session.scalar(select(Certificate).where(Certificate.account_id == me.id))
        assert certificate is not None and certificate.revoked_at is not None
        assert (certificate.holder_name, certificate.pdf, certificate.credential) == (
            "Deleted user",
            None,
            None,
        )
        assert session.get_one(Course, course_id).title  # the course itself is untouched


def test_the_files_of_a_deleted_account_go_and_no_one_elses(tmp_path: Path):
    homes, outbox, uploads = tmp_path / "homes", tmp_path / "outbox", tmp_path / "uploads"
    for folder in (homes / "ada" / "courses", homes / "bob", outbox, uploads):
        folder.mkdir(parents=True)
    (homes / "ada" / "courses" / "work.ipynb").write_text("{}")
    (homes / "bob" / "work.ipynb").write_text("{}")
    avatar, theirs = uploads / "a1.png", uploads / "b1.png"
    avatar.write_bytes(b"png"), theirs.write_bytes(b"png")
    for name, to in (("1.eml", "Ada@Example.org"), ("2.eml", "bob@example.org")):
        (outbox / name).write_text(f"To: {to}\nSubject: Hello\n\nHello\n")
    gone = deletion.Deleted(
        old_username="ada", account_id=1, secrets=["ada@example.org", "Ada Byron", "ada"]
    )
    gone.files.append(avatar)

    assert deletion.remove_files(gone, homes, outbox) == 3
    assert not (homes / "ada").exists() and not avatar.exists()
    assert not (outbox / "1.eml").exists()
    assert (homes / "bob" / "work.ipynb").exists() and theirs.exists()
    assert (outbox / "2.eml").exists()
