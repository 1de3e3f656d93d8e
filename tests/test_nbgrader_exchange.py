"""nbgrader's own student commands — what JupyterLab's Assignment List runs — against the
course service through CourseHub's HTTP exchange: list, fetch, submit (once per notebook),
the submitted list, feedback, and clear refusals. The commands run as a student's notebook
server would run them: in the student's home, with their hub token."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from coursehub.hub.constants import Role
from tests.assignment_data import answered
from tests.player_data import sign_in
from tests.test_assignments import classroom, create, submissions_of  # noqa: F401 - fixture
from tests.test_lab_extension import Hub

NBGRADER = str(Path(sys.executable).parent / "nbgrader")


@dataclass
class Home:
    """A student's home folder and the environment their notebook server gives nbgrader."""

    path: Path
    env: dict[str, str]

    def nbgrader(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [NBGRADER, *args], cwd=self.path, env=self.env, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip


def home_of(platform, username: str, folder: Path) -> Home:  # type: ignore[no-untyped-def]
    hub = Hub(platform)
    try:
        token = hub.token_for(username)
    finally:
        hub.http.close()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(folder),
        "JUPYTERHUB_USER": username,
        "JUPYTERHUB_API_TOKEN": token,
        "COURSEHUB_SERVICE_URL": platform.service_url,
    }
    folder.mkdir(parents=True, exist_ok=True)
    return Home(folder, env)


def test_a_student_lists_fetches_and_submits_with_nbgrader(
    classroom,  # noqa: F811 - the fixture
    platform,
    db,
    tmp_path,
):
    assignment = create(classroom)
    name = f"adding-numbers-{assignment['id']}"
    slug = classroom.course.slug
    home = home_of(platform, classroom.student.username, tmp_path / "student")

    listed = home.nbgrader("list")
    assert listed.returncode == 0, listed.stderr
    assert f"{slug} {name} (released)" in listed.stderr

    fetched = home.nbgrader("fetch_assignment", name, "--course", slug)
    assert fetched.returncode == 0, fetched.stderr
    notebook_path = home.path / slug / name / "adding-numbers.ipynb"
    student_version = json.loads(notebook_path.read_text())
    text = json.dumps(student_version)
    assert "return a + b" not in text and "hidden-check-xyzzy" not in text
    assert f"{slug} {name} (fetched)" in home.nbgrader("list").stderr

    # The student's work is theirs: fetching again keeps it and says why.
    notebook_path.write_bytes(answered(student_version))
    again = home.nbgrader("fetch_assignment", name, "--course", slug)
    assert again.returncode != 0
    assert "You already fetched “Adding numbers”" in again.stderr
    assert json.loads(notebook_path.read_text()) == json.loads(answered(student_version))

    sent = home.nbgrader("submit", name, "--course", slug)
    assert sent.returncode == 0, sent.stderr
    assert "Submitted “Adding numbers” (attempt 1" in sent.stderr
    # Pressing Submit twice on the same notebook is one attempt.
    assert home.nbgrader("submit", name, "--course", slug).returncode == 0
    attempts = submissions_of(db, classroom.student)
    assert [a.attempt for a in attempts] == [1]
    assert attempts[0].sha256 == hashlib.sha256(notebook_path.read_bytes()).hexdigest()

    cached = home.nbgrader("list", "--cached")
    assert cached.returncode == 0, cached.stderr
    assert f"{slug} {name} (submitted)" in cached.stderr

    # Once graded (by the platform's worker), the feedback lands next to the work.
    deadline = time.monotonic() + 240
    while (feedback := home.nbgrader("fetch_feedback", name, "--course", slug)).returncode:
        assert "no graded attempt yet" in feedback.stderr, feedback.stderr
        assert time.monotonic() < deadline, "the submission was not graded in time"
        time.sleep(2)
    pages = list((home.path / slug / name / "feedback").glob("*/adding-numbers.html"))
    assert len(pages) == 1
    page = pages[0].read_text()
    assert "Your grade: 2 / 2" in page
    assert "hidden-check-xyzzy" not in page


REFUSALS = [
    ("release", ["release_assignment", "{name}"], "With CourseHub, upload"),
    ("collect", ["collect", "{name}"], "With CourseHub, submissions"),
    ("bad-name", ["fetch_assignment", "no-such-thing"], "is not a CourseHub assignment name"),
    ("unknown", ["fetch_assignment", "adding-numbers-999999"], "There is no released assignment"),
    ("not-fetched", ["submit", "{name}"], "There is no notebook to submit"),
]


@pytest.mark.parametrize(
    ("command", "expected"), [pytest.param(c, e, id=i) for i, c, e in REFUSALS]
)
def test_nbgrader_commands_that_cannot_work_say_why(
    classroom,  # noqa: F811 - the fixture
    platform,
    tmp_path,
    command,
    expected,
):
    assignment = create(classroom)
    name, slug = f"adding-numbers-{assignment['id']}", classroom.course.slug
    home = home_of(platform, classroom.student.username, tmp_path / "student")
    answer = home.nbgrader(*(part.format(name=name) for part in command), "--course", slug)
    assert answer.returncode != 0
    assert expected in answer.stderr, answer.stderr


def test_a_student_of_another_course_sees_nothing_and_cannot_fetch(
    classroom,  # noqa: F811 - the fixture
    platform,
    make_account,
    signed_in,
    tmp_path,
):
    assignment = create(classroom)
    outsider = make_account(Role.STUDENT)
    signed_in(outsider)  # they have used CourseHub, so the hub knows them
    home = home_of(platform, outsider.username, tmp_path / "outsider")
    assert classroom.course.slug not in home.nbgrader("list").stderr
    name = f"adding-numbers-{assignment['id']}"
    refused = home.nbgrader("fetch_assignment", name, "--course", classroom.course.slug)
    assert refused.returncode != 0
    assert not (home.path / classroom.course.slug).exists()


# -- in JupyterLab's own Assignment List -----------------------------------------------------


@pytest.mark.browser
def test_a_student_fetches_submits_and_reads_feedback_in_the_assignment_list(
    classroom,  # noqa: F811 - the fixture
    platform,
    page,
):
    from playwright.sync_api import expect

    assignment = create(classroom)
    name, slug = f"adding-numbers-{assignment['id']}", classroom.course.slug
    student = classroom.student
    hub = Hub(platform)
    try:
        hub.start(student.username)
        token = hub.token_for(student.username)
        sign_in(page, platform, student.email or "")
        page.goto(f"{platform.url}/user/{student.username}/lab")
        expect(page.locator(".jp-LabShell")).to_be_visible(timeout=90_000)
        page.get_by_role("menuitem", name="Nbgrader", exact=True).click()
        page.get_by_role("menuitem", name="Assignment List").click()

        released = page.locator("#released_assignments_list .list_item", has_text=name)
        expect(released).to_be_visible(timeout=60_000)
        released.get_by_role("button", name="Fetch").click()
        fetched = page.locator("#fetched_assignments_list .list_item", has_text=name)
        expect(fetched.first).to_be_visible(timeout=60_000)

        # The student answers in their copy (through their server, as the editor saves it).
        server = httpx.Client(
            base_url=f"{platform.url}/user/{student.username}/api/contents",
            headers={"Authorization": f"token {token}"},
            timeout=60,
        )
        path = f"{slug}/{name}/adding-numbers.ipynb"
        copy = server.get(path, params={"content": 1}).raise_for_status().json()["content"]
        answer = json.loads(answered(copy))
        saved = server.put(path, json={"type": "notebook", "format": "json", "content": answer})
        assert saved.status_code == 200, saved.text
        server.close()

        fetched.first.get_by_role("button", name="Submit").click()
        submitted = page.locator("#submitted_assignments_list .list_item", has_text=name)
        expect(submitted.first).to_be_visible(timeout=60_000)

        # Graded by the platform's worker; refreshing the list offers the feedback.
        available = submitted.get_by_text("feedback available to fetch")
        deadline = time.monotonic() + 240
        while not available.is_visible():
            assert time.monotonic() < deadline, "no feedback was offered"
            page.locator("#refresh_assignments_list").click()
            page.wait_for_timeout(3000)
        submitted.get_by_role("button", name="Fetch Feedback").click()
        expect(submitted.get_by_text("view feedback")).to_be_visible(timeout=60_000)
    finally:
        if hub.server(student.username):
            hub.stop(student.username)
        hub.http.close()
    attempts = classroom.learner.get(f"{classroom.api}/{assignment['id']}/submissions").json()
    assert [a["grade"]["final_score"] for a in attempts["submissions"]] == [2]
