"""Students' JupyterLab shows students' tools (issue 21, item 13): in a student's server
nbgrader's Assignment List names each assignment by its title with the due date in the
browser's local time, and Formgrader, "Formgrader (local)", the course list, "Create
assignment" (menu and right sidebar) and the notebook toolbar's "Validate" are absent, as is
the formgrader's server extension; an instructor's server keeps all of them.

Servers are started for real through the hub, sandboxed; the browser is Debian's Chromium.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import nbformat
import pytest

from tests.player_data import sign_in
from tests.test_assignments import classroom, create, iso  # noqa: F401 - fixture
from tests.test_lab_extension import Hub

# Not UTC, and half an hour off it: a due date shown in UTC would show other minutes.
TIMEZONE = "Asia/Kolkata"
INSTRUCTOR_TOOLS = ("Formgrader", "Formgrader (local)", "Create assignment", "Course List")


@dataclass
class Lab:
    page: Any  # a signed-in page on the person's JupyterLab, in ``TIMEZONE``
    server: httpx.Client  # their server, with a hub token of theirs


@contextmanager
def lab_of(browser, platform, account) -> Iterator[Lab]:  # type: ignore[no-untyped-def]
    """The person's server started through the hub and opened in the browser; stopped after."""
    from playwright.sync_api import expect

    hub = Hub(platform)
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, timezone_id=TIMEZONE, locale="en-US"
    )
    context.set_default_timeout(20_000)
    server = None
    try:
        hub.start(account.username)
        server = httpx.Client(
            base_url=f"{platform.url}/user/{account.username}",
            headers={"Authorization": f"token {hub.token_for(account.username)}"},
            timeout=60,
        )
        page = context.new_page()
        sign_in(page, platform, account.email or "")
        page.goto(f"{platform.url}/user/{account.username}/lab")
        expect(page.locator(".jp-LabShell")).to_be_visible(timeout=90_000)
        yield Lab(page, server)
    finally:
        context.close()
        if server is not None:
            server.close()
        hub.stop(account.username)
        hub.http.close()


def open_notebook(page, platform, server: httpx.Client, username: str, path: str) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("A notebook")]
    server.put(
        f"api/contents/{path}",
        json={"type": "notebook", "format": "json", "content": notebook},
    ).raise_for_status()
    page.goto(f"{platform.url}/user/{username}/lab/tree/{path}")
    expect(page.locator(".jp-NotebookPanel-toolbar").first).to_be_visible(timeout=60_000)


@pytest.mark.browser
def test_a_students_lab_has_titled_dated_assignments_and_no_instructor_tools(
    classroom,  # noqa: F811 - the fixture
    platform,
    browser,
):
    from playwright.sync_api import expect

    due = datetime.now(UTC).replace(hour=18, minute=0, second=0, microsecond=0) + timedelta(3)
    assignment = create(classroom, due_at=iso(due))
    name = f"adding-numbers-{assignment['id']}"
    student = classroom.student
    with lab_of(browser, platform, student) as lab:
        page, server = lab.page, lab.server
        page.get_by_role("menuitem", name="Nbgrader", exact=True).click()
        menu = page.locator("#jp-mainmenu-nbgrader")
        expect(menu.get_by_role("menuitem", name="Assignment List")).to_be_visible()
        for tool in INSTRUCTOR_TOOLS:
            expect(menu.get_by_role("menuitem", name=tool, exact=True)).to_have_count(0)
        menu.get_by_role("menuitem", name="Assignment List").click()

        row = page.locator("#released_assignments_list > .list_item", has_text=name)
        expect(row).to_be_visible(timeout=60_000)
        expect(row.locator(".coursehub-AssignmentTitle")).to_have_text("Adding numbers")
        local = due.astimezone(ZoneInfo(TIMEZONE))  # 23:30 there
        shown = row.locator(".coursehub-AssignmentDue")
        expect(shown).to_contain_text("Due ")
        expect(shown).to_contain_text(f"{local:%b} {local.day}, {local.year}")
        hour = f"{local:%I}".lstrip("0")
        expect(shown).to_contain_text(re.compile(rf"\b{hour}:{local:%M}\s?PM"))
        expect(row.locator(".coursehub-AssignmentId")).to_have_text(name)

        # No "Create Assignment" in the right sidebar; no Validate on a notebook's toolbar.
        expect(page.locator("#nbgrader-create_assignemnt")).to_have_count(0)
        open_notebook(page, platform, server, student.username, "mine.ipynb")
        expect(page.locator(".jp-NotebookPanel-toolbar .validate-button")).to_have_count(0)

        # The formgrader's server extension is not even loaded; the Assignment List's API is.
        assert server.get("formgrader").status_code == 404
        assert server.get("formgraders").status_code == 404
        listed = server.get("assignments", params={"course_id": classroom.course.slug})
        assert listed.status_code == 200, listed.text


@pytest.mark.browser
def test_an_instructors_lab_keeps_formgrader_create_assignment_and_validate(
    classroom,  # noqa: F811 - the fixture
    platform,
    browser,
):
    from playwright.sync_api import expect

    instructor = classroom.teacher.account
    with lab_of(browser, platform, instructor) as lab:
        page, server = lab.page, lab.server
        page.get_by_role("menuitem", name="Nbgrader", exact=True).click()
        menu = page.locator("#jp-mainmenu-nbgrader")
        for tool in ("Assignment List", "Formgrader", "Create assignment", "Course List"):
            expect(menu.get_by_role("menuitem", name=tool, exact=True)).to_be_visible()
        page.keyboard.press("Escape")
        expect(page.locator(".jp-SideBar [title='Nbgrader Create Assignment']")).to_have_count(1)

        open_notebook(page, platform, server, instructor.username, "teaching.ipynb")
        expect(page.locator(".jp-NotebookPanel-toolbar .validate-button")).to_be_visible()
        assert server.get("formgrader").status_code != 404


def test_the_student_config_folder_disables_what_lab_tools_names_and_nbgrader_has():
    import nbgrader

    from coursehub.hub import lab_tools

    folder = lab_tools.STUDENT_CONFIG_DIR
    page_config = json.loads((folder / "labconfig" / "page_config.json").read_text())
    disabled = {name for name, off in page_config["disabledExtensions"].items() if off}
    assert disabled == set(lab_tools.STUDENT_DISABLED_PLUGINS)
    server_config = folder / "jupyter_server_config.d" / "coursehub-student.json"
    extensions = json.loads(server_config.read_text())["ServerApp"]["jpserver_extensions"]
    assert {name for name, on in extensions.items() if not on} == set(
        lab_tools.STUDENT_DISABLED_SERVER_EXTENSIONS
    )
    assert {name for name, on in extensions.items() if on} == set(
        lab_tools.STUDENT_SERVER_EXTENSIONS
    )
    # The ids are nbgrader's own: its bundle names each plugin.
    bundle = Path(nbgrader.__file__).parent / "labextension" / "static"
    code = "".join(path.read_text() for path in bundle.glob("*.js"))
    for plugin in (*lab_tools.STUDENT_DISABLED_PLUGINS, "@jupyter/nbgrader:assignment-list"):
        assert f'"{plugin}"' in code, plugin


def test_hub_admins_and_instructors_teach_and_only_students_get_the_student_folder():
    from coursehub.hub import lab_tools
    from coursehub.hub.constants import INSTRUCTORS_GROUP

    assert lab_tools.teaches(True, [])
    assert lab_tools.teaches(False, [INSTRUCTORS_GROUP, "other"])
    assert not lab_tools.teaches(False, ["other"])
    assert lab_tools.jupyter_config_path(True, "/etc/mine") == "/etc/mine"
    folder = str(lab_tools.STUDENT_CONFIG_DIR)
    assert lab_tools.jupyter_config_path(False, "") == folder
    assert lab_tools.jupyter_config_path(False, "/etc/mine") == f"{folder}:/etc/mine"
