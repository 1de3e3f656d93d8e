"""The one audit log: entries live and die with the change they describe, nobody can change
or remove one (not even with SQL), and an admin finds and exports them."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from coursehub.hub.constants import Role
from coursehub.services.accounts import accounts
from coursehub.services.audit import audit_log
from coursehub.services.models import Account, AuditEntry


async def test_an_entry_is_kept_exactly_when_its_change_is(sessions, make_account):
    admin, student = make_account(Role.ADMIN), make_account()

    async with sessions() as session:
        actor = await session.get(Account, admin.id)
        person = await session.get(Account, student.id)
        await accounts.change_role(session, actor=actor, account=person, new_role=Role.INSTRUCTOR)
        await session.rollback()  # the caller's transaction fails: no change, no entry

    async with sessions() as session, session.begin():
        actor = await session.get(Account, admin.id)
        person = await session.get(Account, student.id)
        token = audit_log.request_id.set("req-7f3a")
        try:
            await accounts.change_role(
                session, actor=actor, account=person, new_role=Role.INSTRUCTOR
            )
        finally:
            audit_log.request_id.reset(token)

    async with sessions() as session:
        trail = await audit_log.history(session, "account", student.id)
    assert [(e.action, e.before, e.after, e.actor_name, e.request_id) for e in trail] == [
        ("role.change", {"role": "STUDENT"}, {"role": "INSTRUCTOR"}, admin.username, "req-7f3a")
    ]


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param(
            "UPDATE audit_log SET reason = 'nothing happened' WHERE id = :id", id="update"
        ),
        pytest.param("DELETE FROM audit_log WHERE id = :id", id="delete"),
        pytest.param("TRUNCATE audit_log", id="truncate"),
    ],
)
async def test_the_table_refuses_updates_and_deletes(sessions, make_account, statement):
    admin = make_account(Role.ADMIN)
    async with sessions() as session, session.begin():
        actor = await session.get(Account, admin.id)
        entry = audit_log.record(
            session, actor, "settings.change", ("site_setting", "platform_name"), "A", "B"
        )
    async with sessions() as session:
        with pytest.raises(DBAPIError, match="append-only"):
            await session.execute(text(statement), {"id": entry.id})
        await session.rollback()
        kept = await session.get(AuditEntry, entry.id)
    assert kept is not None and kept.reason == "" and kept.after == "B"


async def test_an_admin_searches_and_exports_the_log(sessions, make_account):
    admin = make_account(Role.ADMIN)
    marker = f"refund-{admin.username}"
    async with sessions() as session, session.begin():
        actor = await session.get(Account, admin.id)
        audit_log.record(
            session,
            actor,
            "payment.refund",
            ("payment", marker),
            {"state": "paid"},
            {"state": "refunded"},
            reason='=HYPERLINK("http://evil")',
        )
        audit_log.record(session, None, "account.suspend", ("account", marker), reason="spam")

    async with sessions() as session:
        found, total = await audit_log.search(session, audit_log.AuditQuery(text=marker))
        refunds, _ = await audit_log.search(
            session, audit_log.AuditQuery(text=marker, action="payment.")
        )
        by_admin, _ = await audit_log.search(session, audit_log.AuditQuery(actor=admin.username))
        exported = await audit_log.export_csv(session, audit_log.AuditQuery(text=marker))

    assert total == 2 and [e.action for e in found] == ["account.suspend", "payment.refund"]
    assert [e.action for e in refunds] == ["payment.refund"]
    assert [e.target_id for e in by_admin] == [marker]
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [(r["action"], r["actor"]) for r in rows] == [
        ("payment.refund", admin.username),
        ("account.suspend", "coursehub"),
    ]
    assert rows[0]["after"] == '{"state": "refunded"}'
    assert rows[0]["reason"].startswith("'=")  # a spreadsheet shows it, does not run it


def test_no_code_path_updates_or_deletes_the_log():
    services = Path(__file__).resolve().parent.parent / "services"
    offenders = [
        str(path)
        for path in services.rglob("*.py")
        if "versions" not in path.parts
        and any(
            needle in path.read_text()
            for needle in (
                "update(AuditEntry",
                "delete(AuditEntry",
                "UPDATE audit_log",
                "DELETE FROM audit_log",
            )
        )
    ]
    assert offenders == []
