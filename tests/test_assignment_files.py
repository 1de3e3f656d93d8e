"""An assignment's data files and nbgrader AUTOTEST directives on the real platform: uploaded
with the source (or one at a time), checked, kept or replaced with a corrected source, given
to the course's students and to nbgrader's fetch, copied into every grading job; AUTOTEST
directives expanded at upload in a grading sandbox with the uploaded autotests.yml, and
graded by the platform's worker as nbgrader grades them. nbgrader's own fixtures are used
(``nbgrader/tests/apps/files`` in the installed package)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbgrader
import pytest
from alembic import command
from sqlalchemy import create_engine, select, text

from coursehub.hub.constants import Role
from coursehub.services.assessment import assignment_files
from coursehub.services.errors import Refusal
from coursehub.services.migrate import alembic_config
from coursehub.services.models import Assignment, AssignmentFile
from coursehub.services.settings import sqlalchemy_url
from tests.grading_room import grade_of, wait_until_graded
from tests.platform import create_database, drop_database
from tests.teaching_client import open_session
from tests.test_assignments import IPYNB, Classroom, classroom  # noqa: F401 - fixture
from tests.test_nbgrader_exchange import home_of
from tests.test_nbgrader_import import new_course, run_import

FILES = Path(nbgrader.__file__).parent / "tests" / "apps" / "files"
NOTEBOOK = "application/x-ipynb+json"


def fixture(name: str) -> bytes:
    return (FILES / name).read_bytes()


def upload(
    room: Classroom,
    notebook: bytes,
    files: dict[str, bytes] | None = None,
    *,
    title: str = "Reading data",
    assignment_id: int | None = None,
):  # type: ignore[no-untyped-def]
    """POST a new assignment (or PUT a corrected source) with its data files, multipart."""
    parts: list[tuple[str, tuple[str, bytes, str]]] = [
        ("notebook", ("source.ipynb", notebook, NOTEBOOK))
    ]
    parts += [
        ("files", (path, content, "application/octet-stream"))
        for path, content in (files or {}).items()
    ]
    if assignment_id is None:
        return room.teacher.call("POST", room.api, params={"title": title}, files=parts)
    return room.teacher.call("PUT", f"{room.api}/{assignment_id}/source", files=parts)


def release(room: Classroom, assignment_id: int) -> None:
    released = room.teacher.call("PATCH", f"{room.api}/{assignment_id}", json={"release": True})
    assert released.status_code == 200, released.text


def paths(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return [entry["path"] for entry in response.json()["files"]]


def stored(db, assignment_id: int) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    with db() as session:
        rows = session.execute(
            select(AssignmentFile.path, AssignmentFile.content).where(
                AssignmentFile.assignment_id == assignment_id
            )
        )
        return {path: content for path, content in rows}


def submit_and_grade(room: Classroom, db, assignment_id: int, notebook: bytes) -> Any:  # type: ignore[no-untyped-def]
    sent = room.learner.call(
        "POST", f"{room.api}/{assignment_id}/submissions", content=notebook, headers=IPYNB
    )
    assert sent.status_code == 201, sent.text
    wait_until_graded(db, [sent.json()["id"]])
    return grade_of(db, sent.json()["id"])


# -- without the platform --------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "../secret.txt",
        "data/../../x",
        "/etc/passwd",
        "C:/data.txt",
        ".ipynb_checkpoints/data-checkpoint.txt",
        "data/.hidden",
        "",
        "a//b",
        "other.ipynb",
    ],
)
def test_data_file_paths_that_are_not_relative_plain_files_are_refused(path: str) -> None:
    with pytest.raises(Refusal) as refused:
        assignment_files.check_path(path)
    assert refused.value.status == 400 and refused.value.message


def test_data_file_paths_are_kept_relative_with_slashes() -> None:
    assert assignment_files.check_path("data/weather.csv") == "data/weather.csv"
    assert assignment_files.check_path("data\\weather.csv") == "data/weather.csv"
    with pytest.raises(Refusal) as twice:
        assignment_files.check_files({"d/a.txt": b"1", "d\\a.txt": b"2"})
    assert "came twice" in twice.value.message


def test_too_many_or_too_large_data_files_are_refused_with_413() -> None:
    many = {f"f{n}.txt": b"x" for n in range(assignment_files.MAX_FILES + 1)}
    with pytest.raises(Refusal) as refused:
        assignment_files.check_files(many)
    assert refused.value.status == 413
    large = {"big.bin": b"\0" * (assignment_files.MAX_TOTAL_BYTES + 1)}
    with pytest.raises(Refusal) as refused:
        assignment_files.check_files(large)
    assert refused.value.status == 413 and "MB" in refused.value.message


def test_migration_0012_is_reversible_and_matches_the_models() -> None:
    url = create_database("coursehub_assignment_files_migration")
    try:
        config = alembic_config(sqlalchemy_url(url))
        command.upgrade(config, "head")
        command.downgrade(config, "0011")
        engine = create_engine(sqlalchemy_url(url))
        with engine.connect() as connection:
            left = connection.scalar(
                text("SELECT count(*) FROM pg_class WHERE relname = 'assignment_files'")
            )
        engine.dispose()
        assert left == 0
        command.upgrade(config, "head")
        command.check(config)
    finally:
        drop_database(url)


# -- on the platform -------------------------------------------------------------------------


def test_data_files_come_with_the_source_and_every_grading_job_gets_them(classroom, db):  # noqa: F811
    room = classroom
    made = upload(room, fixture("open_relative_file.ipynb"), {"data.txt": fixture("data.txt")})
    assert made.status_code == 201, made.text
    assignment_id = made.json()["id"]
    assert paths(room.teacher.get(f"{room.api}/{assignment_id}/files")) == ["data.txt"]
    # Not released: its students see neither the files nor one of them.
    assert room.learner.get(f"{room.api}/{assignment_id}/files").status_code == 404
    assert room.learner.get(f"{room.api}/{assignment_id}/files/data.txt").status_code == 404
    release(room, assignment_id)
    assert paths(room.learner.get(f"{room.api}/{assignment_id}/files")) == ["data.txt"]
    downloaded = room.learner.get(f"{room.api}/{assignment_id}/files/data.txt")
    assert downloaded.status_code == 200 and downloaded.content == fixture("data.txt")

    # nbgrader's fixture reads data.txt beside it: full marks through the platform's grading.
    grade = submit_and_grade(room, db, assignment_id, fixture("open_relative_file.ipynb"))
    assert grade.max_score > 0
    assert (grade.outcome, grade.score) == ("graded", grade.max_score), grade.cells
    # Without its data file the same notebook fails: the file is what made the difference.
    bare = upload(room, fixture("open_relative_file.ipynb"), title="No data")
    assert bare.status_code == 201, bare.text
    release(room, bare.json()["id"])
    missing = submit_and_grade(room, db, bare.json()["id"], fixture("open_relative_file.ipynb"))
    assert missing.score == 0, missing.cells


def test_staff_add_replace_and_delete_files_and_a_corrected_source_keeps_or_replaces_them(
    classroom,  # noqa: F811
    db,
):
    room = classroom
    source = fixture("open_relative_file.ipynb")
    made = upload(room, source, {"data.txt": b"one", "data/weather.csv": b"t,rain\n1,2\n"})
    assert made.status_code == 201, made.text
    assignment_id = made.json()["id"]
    one = f"{room.api}/{assignment_id}/files"
    assert stored(db, assignment_id) == {"data.txt": b"one", "data/weather.csv": b"t,rain\n1,2\n"}

    added = room.teacher.call("PUT", f"{one}/data/more/extra.txt", content=b"extra")
    assert added.status_code == 201, added.text
    assert added.json()["path"] == "data/more/extra.txt" and added.json()["size"] == 5
    replaced = room.teacher.call("PUT", f"{one}/data.txt", content=b"two")
    assert replaced.status_code == 200, replaced.text
    assert room.teacher.get(f"{one}/data.txt").content == b"two"
    assert room.teacher.call("DELETE", f"{one}/data/weather.csv").status_code == 204
    assert room.teacher.call("DELETE", f"{one}/data/weather.csv").status_code == 404
    assert paths(room.teacher.get(one)) == ["data.txt", "data/more/extra.txt"]

    # Students may read a released assignment's files, never change them.
    release(room, assignment_id)
    assert room.learner.call("PUT", f"{one}/data.txt", content=b"mine").status_code == 403
    assert room.learner.call("DELETE", f"{one}/data.txt").status_code == 403
    assert room.teacher.get(f"{one}/data.txt").content == b"two"

    # A corrected source alone keeps the files; with files it replaces them.
    kept = upload(room, source, assignment_id=assignment_id)
    assert kept.status_code == 200, kept.text
    assert stored(db, assignment_id) == {"data.txt": b"two", "data/more/extra.txt": b"extra"}
    kept_raw = room.teacher.call(
        "PUT", f"{room.api}/{assignment_id}/source", content=source, headers=IPYNB
    )
    assert kept_raw.status_code == 200, kept_raw.text
    assert len(stored(db, assignment_id)) == 2
    swapped = upload(room, source, {"data.txt": fixture("data.txt")}, assignment_id=assignment_id)
    assert swapped.status_code == 200, swapped.text
    assert stored(db, assignment_id) == {"data.txt": fixture("data.txt")}

    # The files go with their assignment.
    with db() as session:
        session.delete(session.get(Assignment, assignment_id))
        session.commit()
    assert stored(db, assignment_id) == {}


@pytest.mark.parametrize(
    ("files", "status", "words"),
    [
        ({"../up.txt": b"x"}, 400, "without '..'"),
        ({"/etc/passwd": b"x"}, 400, "not absolute"),
        ({".ipynb_checkpoints/data-checkpoint.txt": b"x"}, 400, "hidden"),
    ],
    ids=["dotdot", "absolute", "checkpoints"],
)
def test_unusable_data_files_are_refused_and_nothing_is_made(
    classroom,  # noqa: F811
    db,
    files: dict[str, bytes],
    status: int,
    words: str,
):
    room = classroom
    refused = upload(room, fixture("open_relative_file.ipynb"), files, title="Refused files")
    assert refused.status_code == status, refused.text
    assert words in refused.json()["error"]
    with db() as session:
        made = session.scalars(
            select(Assignment).where(
                Assignment.course_id == room.course.id, Assignment.title == "Refused files"
            )
        ).all()
    assert made == []
    # One file at a time is checked the same way.
    made = upload(room, fixture("open_relative_file.ipynb"))
    bad = room.teacher.call(
        "PUT", f"{room.api}/{made.json()['id']}/files/.ipynb_checkpoints/x.txt", content=b"x"
    )
    assert bad.status_code == 400 and "hidden" in bad.json()["error"]


def test_an_assignment_holds_at_most_max_files_data_files(classroom):  # noqa: F811
    room = classroom
    most = {f"f{n}.txt": b"x" for n in range(assignment_files.MAX_FILES)}
    made = upload(room, fixture("open_relative_file.ipynb"), most, title="Many files")
    assert made.status_code == 201, made.text
    one_more = room.teacher.call(
        "PUT", f"{room.api}/{made.json()['id']}/files/extra.txt", content=b"x"
    )
    assert one_more.status_code == 413, one_more.text
    assert "more than the 90 an assignment may have" in one_more.json()["error"]
    # Replacing one that is there is no more files.
    again = room.teacher.call("PUT", f"{room.api}/{made.json()['id']}/files/f0.txt", content=b"y")
    assert again.status_code == 200, again.text


@pytest.mark.parametrize("kind", ["simple", "hashed"])
def test_autotest_directives_are_expanded_at_upload_and_graded_as_nbgrader_grades_them(
    classroom,  # noqa: F811
    db,
    kind: str,
):
    room = classroom
    source = fixture(f"autotest-{kind}.ipynb")
    without = upload(room, source, title="Autotests")
    assert without.status_code == 400, without.text
    assert "no autotests.yml came with it" in without.json()["error"]

    made = upload(room, source, {"autotests.yml": fixture("autotests.yml")}, title="Autotests")
    assert made.status_code == 201, made.text
    assignment_id = made.json()["id"]
    with db() as session:
        assignment = session.get(Assignment, assignment_id)
        stored_source = json.dumps(assignment.source_notebook)
    assert "AUTOTEST" not in stored_source and "assert" in stored_source
    # autotests.yml stays with the staff; students and grading jobs do not get it.
    assert paths(room.teacher.get(f"{room.api}/{assignment_id}/files")) == ["autotests.yml"]
    release(room, assignment_id)
    assert paths(room.learner.get(f"{room.api}/{assignment_id}/files")) == []
    assert room.learner.get(f"{room.api}/{assignment_id}/files/autotests.yml").status_code == 404

    unchanged = fixture(f"autotest-{kind}-unchanged.ipynb")
    untouched = submit_and_grade(room, db, assignment_id, unchanged)
    assert untouched.max_score > 0 and untouched.score == 0, untouched.cells
    right = submit_and_grade(room, db, assignment_id, fixture(f"autotest-{kind}-changed.ipynb"))
    assert right.score == right.max_score, (right.message, right.cells)

    # A corrected source with directives uses the stored autotests.yml.
    again = upload(room, source, assignment_id=assignment_id)
    assert again.status_code == 200, again.text


def test_an_autotest_notebook_that_fails_to_run_is_refused_with_the_engines_sentence(
    classroom,  # noqa: F811
):
    room = classroom
    notebook = json.loads(fixture("autotest-simple.ipynb"))
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code" and "AUTOTEST" not in "".join(cell["source"]):
            cell["source"] = "raise RuntimeError('the instructor broke this cell')\n"
            break
    refused = upload(
        room,
        json.dumps(notebook).encode(),
        {"autotests.yml": fixture("autotests.yml")},
        title="Broken autotests",
    )
    assert refused.status_code == 400, refused.text
    assert "nbgrader could not expand the notebook's AUTOTEST" in refused.json()["error"]


def test_nbgrader_fetch_writes_the_data_files_beside_the_notebook(
    classroom,  # noqa: F811
    platform,
    tmp_path,
):
    room = classroom
    made = upload(
        room,
        fixture("open_relative_file.ipynb"),
        {"data.txt": fixture("data.txt"), "data/weather.csv": b"t,rain\n"},
        title="Relative file",
    )
    assert made.status_code == 201, made.text
    assignment_id = made.json()["id"]
    release(room, assignment_id)
    name = f"relative-file-{assignment_id}"
    slug = room.course.slug
    home = home_of(platform, room.student.username, tmp_path / "student")
    fetched = home.nbgrader("fetch_assignment", name, "--course", slug)
    assert fetched.returncode == 0, fetched.stderr
    folder = home.path / slug / name
    assert (folder / "data.txt").read_bytes() == fixture("data.txt")
    assert (folder / "data/weather.csv").read_bytes() == b"t,rain\n"
    # The notebook opens it from where it was fetched, as it does when graded.
    opened = subprocess.run(
        [sys.executable, "-c", "print(open('data.txt').read().splitlines()[0])"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    assert opened.stdout.strip() == "line 1"


def test_import_nbgrader_takes_the_files_beside_each_source_and_expands_autotests(
    database_url, db, tmp_path
):
    root = tmp_path / "course"
    relative = root / "source" / "relfile"
    (relative / ".ipynb_checkpoints").mkdir(parents=True)
    (relative / "open_relative_file.ipynb").write_bytes(fixture("open_relative_file.ipynb"))
    (relative / "data.txt").write_bytes(fixture("data.txt"))
    (relative / ".ipynb_checkpoints" / "data-checkpoint.txt").write_bytes(b"old")
    (relative / ".ipynb_checkpoints" / "open_relative_file-checkpoint.ipynb").write_bytes(b"{}")
    auto = root / "source" / "auto"
    auto.mkdir(parents=True)
    (auto / "autotest-simple.ipynb").write_bytes(fixture("autotest-simple.ipynb"))
    (root / "autotests.yml").write_bytes(fixture("autotests.yml"))  # the course's, as nbgrader

    course = new_course(database_url, db)
    done = run_import(database_url, str(root), "--course", course.slug)
    assert done.returncode == 0, done.stderr + done.stdout
    with db() as session:
        made = {
            a.title: a
            for a in session.scalars(select(Assignment).where(Assignment.course_id == course.id))
        }
    assert set(made) == {"relfile", "auto"}
    assert stored(db, made["relfile"].id) == {"data.txt": fixture("data.txt")}
    assert stored(db, made["auto"].id) == {"autotests.yml": fixture("autotests.yml")}
    expanded = json.dumps(made["auto"].source_notebook)
    assert "AUTOTEST" not in expanded and "assert" in expanded

    again = run_import(database_url, str(root), "--course", course.slug)
    assert again.returncode == 0, again.stderr
    assert "problems: none" in again.stdout, again.stdout


def test_files_without_a_notebook_and_people_outside_the_course_are_refused(
    classroom,  # noqa: F811
    platform,
    signed_in,
    make_account,
):
    room = classroom
    only_files = room.teacher.call(
        "POST",
        room.api,
        params={"title": "No notebook"},
        files=[("files", ("data.txt", b"x", "text/plain"))],
    )
    assert only_files.status_code == 400, only_files.text
    assert "no notebook" in only_files.json()["error"]

    made = upload(room, fixture("open_relative_file.ipynb"), {"data.txt": fixture("data.txt")})
    assignment_id = made.json()["id"]
    release(room, assignment_id)
    outsider = open_session(platform, signed_in, make_account(Role.STUDENT))
    assert outsider.get(f"{room.api}/{assignment_id}/files").status_code == 403
    assert outsider.get(f"{room.api}/{assignment_id}/files/data.txt").status_code == 403
    put = outsider.call("PUT", f"{room.api}/{assignment_id}/files/data.txt", content=b"mine")
    assert put.status_code == 403
    assert room.teacher.get(f"{room.api}/{assignment_id}/files/data.txt").content == fixture(
        "data.txt"
    )
