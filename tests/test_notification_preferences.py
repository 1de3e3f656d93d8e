"""``notifications.notification_preferences``: each person's email choice per kind. Someone
who never chose gets each kind's default; a choice is saved per kind and changes only the
kinds sent; what a settings form may send is checked with a sentence saying what to send."""

from __future__ import annotations

import pytest

from coursehub.hub.constants import Role
from coursehub.services.models import EmailChoice
from coursehub.services.notifications.kinds import KINDS
from coursehub.services.notifications.notification_preferences import (
    PreferenceError,
    choices_of,
    parse_choices,
    save_choices,
    settings_json,
)


def test_a_settings_form_sends_known_kinds_and_off_email_or_digest():
    assert parse_choices({"announcement": "Digest", "forum_reply": "off"}) == {
        "announcement": EmailChoice.DIGEST,
        "forum_reply": EmailChoice.OFF,
    }
    assert parse_choices({}) == {}
    for wrong, says in [
        (["announcement"], "an object of notification kinds"),
        ({"birthday": "email"}, "no notification kind 'birthday'"),
        ({"announcement": "weekly"}, "off, email or digest for announcement"),
        ({"announcement": True}, "off, email or digest"),
    ]:
        with pytest.raises(PreferenceError, match=says):
            parse_choices(wrong)


async def test_a_person_keeps_the_defaults_until_they_choose_and_then_only_what_they_chose(
    make_account, sessions
):
    student = make_account(Role.STUDENT)
    async with sessions() as session:
        defaults = await choices_of(session, student.id)
        assert defaults == {kind.name: kind.default for kind in KINDS}

        await save_choices(session, student.id, {"announcement": EmailChoice.DIGEST})
        await save_choices(
            session,
            student.id,
            {"announcement": EmailChoice.OFF, "forum_reply": EmailChoice.EMAIL},
        )
        chosen = await choices_of(session, student.id)
        assert chosen["announcement"] is EmailChoice.OFF  # the later choice wins
        assert chosen["forum_reply"] is EmailChoice.EMAIL
        unchanged = {k: v for k, v in chosen.items() if k not in ("announcement", "forum_reply")}
        assert unchanged == {k: v for k, v in defaults.items() if k in unchanged}

        page = settings_json(chosen)
        row = next(r for r in page["kinds"] if r["kind"] == "announcement")
        assert (row["email"], row["default"]) == ("off", "email")
        assert page["choices"] == ["digest", "email", "off"]
        await session.rollback()
