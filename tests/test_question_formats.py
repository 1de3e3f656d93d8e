"""Quiz questions from other LMSs, through the API as an instructor uses it: a Moodle XML
export, a GIFT file and a Canvas QTI zip previewed (what was understood, what is skipped and
why) and imported into a course's bank field by field, images included and shown only to the
course's people; hostile or broken files refused with a clear message and nothing created;
students refused; and exports that import back to the same questions."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from coursehub.hub.constants import Role
from coursehub.services.models import Account, QuizImage, QuizQuestion, Upload
from tests import question_files_data as samples
from tests.course_builder import BuiltCourse, enroll, make_course, unique_word
from tests.teaching_client import Session, open_session

FORM_FILE = "file"


@dataclass
class Room:
    course: BuiltCourse
    teacher: Session
    learner: Session
    student: Account

    @property
    def bank(self) -> str:
        return f"/api/courses/{self.course.slug}/quiz-bank"


@pytest.fixture
def room(platform, signed_in, make_account, db, database_url) -> Room:  # type: ignore[no-untyped-def]
    instructor = make_account(Role.INSTRUCTOR)
    course = make_course(database_url, instructor, title=f"Circuits {unique_word()}", modules={})
    student = make_account(Role.STUDENT)
    enroll(db, student, course)
    return Room(
        course,
        open_session(platform, signed_in, instructor),
        open_session(platform, signed_in, student),
        student,
    )


def send(session: Session, path: str, data: bytes, name: str, **params: Any) -> httpx.Response:
    return session.call("POST", path, files={FORM_FILE: (name, data)}, params=params, timeout=120)


def preview(room: Room, data: bytes, name: str, **params: Any) -> dict[str, Any]:
    answer = send(room.teacher, f"{room.bank}/import/preview", data, name, **params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def import_file(room: Room, data: bytes, name: str, **params: Any) -> dict[str, Any]:
    answer = send(room.teacher, f"{room.bank}/import", data, name, **params)
    assert answer.status_code == 201, answer.text
    return answer.json()


def stored(db, course: BuiltCourse) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """How many bank questions and quiz images the course has."""
    with db() as session:
        questions = session.scalar(
            select(func.count(QuizQuestion.id)).where(QuizQuestion.course_id == course.id)
        )
        images = session.scalar(
            select(func.count(QuizImage.id)).where(QuizImage.course_id == course.id)
        )
    return questions, images


def by_title(questions: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {question["title"]: question for question in questions}


def image_ids(text: str) -> list[int]:
    import re

    return [int(n) for n in re.findall(r"/services/coursehub/media/(\d+)", text)]


# -- Moodle XML -----


def test_a_moodle_export_is_previewed_then_imported_with_its_image(
    room, db, platform, signed_in, make_account
):  # type: ignore[no-untyped-def]
    shown = preview(room, samples.moodle_xml(), "questions-week2.xml")
    assert shown["format"] == "moodle_xml"
    assert [q["title"] for q in shown["questions"]] == [
        "Ohm's law",
        "Conductors",
        "Series current",
        "Unit of resistance",
        "Power",
        "Explain a fuse",
    ]
    assert [q["kind"] for q in shown["questions"]] == [
        "SINGLE_CHOICE",
        "MULTIPLE_CHOICE",
        "TRUE_FALSE",
        "FILL_IN",
        "FILL_IN",
        "ESSAY",
    ]
    assert shown["questions"][0]["images"] == 1
    assert "<script" not in shown["questions"][0]["prompt_html"]
    assert any("50%" in note for note in shown["questions"][3]["notes"])  # 'omega' left out
    assert shown["skipped"] == [
        {
            "source": "question 7 ('Symbols')",
            "reason": "matching questions have no CourseHub counterpart",
        },
        {
            "source": "question 8 ('Broken statement')",
            "reason": "it has no answer marked 100% true or false",
        },
    ]
    assert stored(db, room.course) == (0, 0)  # a preview stores nothing

    made = import_file(room, samples.moodle_xml(), "questions-week2.xml")
    assert len(made["skipped"]) == 2
    questions = by_title(made["questions"])
    ohm = questions["Ohm's law"]
    assert ohm["kind"] == "SINGLE_CHOICE" and ohm["points"] == 2
    assert [(c["text"], c["correct"]) for c in ohm["choices"]] == [
        ("0.5 A", True),
        ("2 A", False),
        ("50 A", False),
    ]
    assert ohm["shuffle"] is True
    assert ohm["explanation"] == "I = V / R = 0.5 A."
    assert sorted(ohm["tags"]) == ["ohm", "week-2-circuits"]
    assert ohm["prompt"].startswith(
        "In the circuit ![a resistor and a battery](/services/coursehub/media/"
    )
    assert ohm["prompt"].endswith("what is the current through a **10 Ω** resistor at 5 V?")
    conductors = questions["Conductors"]
    assert conductors["kind"] == "MULTIPLE_CHOICE" and conductors["points"] == 3
    assert [c["text"] for c in conductors["choices"] if c["correct"]] == ["Copper", "Silver"]
    assert questions["Series current"]["kind"] == "TRUE_FALSE"
    assert questions["Series current"]["correct"] is True
    unit = questions["Unit of resistance"]
    assert unit["answers"] == [
        {"mode": "case_insensitive", "value": "ohm"},
        {"mode": "regex", "value": "(?i)ohm.*s"},  # Moodle's wildcard
    ]
    power = questions["Power"]
    assert power["answers"] == [{"mode": "numeric", "value": 12.0, "abs_tol": 0.5, "rel_tol": 0.0}]
    assert power["explanation"] == "P = I² R" and power["points"] == 2
    fuse = questions["Explain a fuse"]
    assert fuse["kind"] == "ESSAY" and fuse["points"] == 5
    assert fuse["guidance"] == "Look for: melting, current limit."
    assert stored(db, room.course) == (6, 1)

    # The image is the one in the file, for the course's staff; a bank question gives
    # nothing away, so the course's student may not open it yet, nor anybody else.
    [upload_id] = image_ids(ohm["prompt"])
    with db() as session:
        upload = session.get(Upload, upload_id)
        assert upload is not None and upload.purpose == "quiz_image"
        assert upload.content_type == "image/png"
    picture = room.teacher.get(f"/media/{upload_id}")
    assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")
    assert room.learner.get(f"/media/{upload_id}").status_code == 403
    stranger = open_session(platform, signed_in, make_account(Role.STUDENT))
    refused = stranger.get(f"/media/{upload_id}")
    assert refused.status_code == 403 and "quiz questions" in refused.text


# -- GIFT -----


def test_a_gift_file_with_every_gift_kind_comments_and_escapes(room, db):  # type: ignore[no-untyped-def]
    shown = preview(room, samples.gift(), "week3.txt")
    assert shown["format"] == "gift"
    assert shown["skipped"] == [
        {"source": "line 30", "reason": "matching questions (->) have no CourseHub counterpart"},
        {
            "source": "line 36",
            "reason": "its braces do not pair up (one answer block per question; escape a "
            "literal brace as \\{ or \\})",
        },
    ]
    made = import_file(room, samples.gift(), "week3.txt")
    questions = by_title(made["questions"])
    assert list(questions) == [
        "Capital of France",
        "Python numbers",
        "Equality",
        "Braces",
        "Creator",
        "Pi",
        "Range",
        "Why indent",
    ]
    capital = questions["Capital of France"]
    assert [(c["text"], c["correct"]) for c in capital["choices"]] == [
        ("Paris", True),
        ("London", False),
        ("Berlin", False),
    ]
    assert capital["explanation"].startswith("Paris has been the capital")
    assert capital["tags"] == ["week-3"]  # from $CATEGORY
    numbers = questions["Python numbers"]
    assert numbers["kind"] == "MULTIPLE_CHOICE"
    assert [c["text"] for c in numbers["choices"] if c["correct"]] == ["int", "float"]
    assert questions["Equality"]["prompt"] == "In Python, 1 = 1.0 is True."  # \= escape
    assert questions["Equality"]["correct"] is True
    braces = questions["Braces"]
    assert braces["prompt"] == "A set literal in Python is written with { and }."
    assert braces["correct"] is False
    assert questions["Creator"]["answers"] == [
        {"mode": "case_insensitive", "value": "Guido"},
        {"mode": "case_insensitive", "value": "Guido van Rossum"},
    ]
    assert questions["Pi"]["answers"] == [
        {"mode": "numeric", "value": 3.14, "abs_tol": 0.005, "rel_tol": 0.0}
    ]
    assert questions["Range"]["answers"] == [
        {"mode": "numeric", "value": 1.5, "abs_tol": 0.5, "rel_tol": 0.0}
    ]
    indent = questions["Why indent"]
    assert indent["kind"] == "ESSAY"
    assert indent["prompt"] == "Explain **why** Python uses indentation: two sentences."
    assert stored(db, room.course) == (8, 0)


# -- Canvas QTI -----


def test_a_canvas_qti_zip_with_an_image_becomes_questions_of_a_quiz(room, db):  # type: ignore[no-untyped-def]
    quiz = room.teacher.call(
        "POST", f"/api/courses/{room.course.slug}/quizzes", json={"title": "Circuits"}
    ).json()
    shown = preview(room, samples.canvas_zip(), "circuits-export.zip", quiz_id=quiz["id"])
    assert shown["format"] == "qti" and shown["title"] == "Circuits"
    assert shown["skipped"] == [
        {"source": "item 8 ('Units')", "reason": "matching questions have no CourseHub counterpart"}
    ]
    made = import_file(room, samples.canvas_zip(), "circuits-export.zip", quiz_id=quiz["id"])
    questions = by_title(made["questions"])
    series = questions["Series resistors"]
    assert series["kind"] == "SINGLE_CHOICE" and series["points"] == 2
    assert [(c["text"], c["correct"]) for c in series["choices"]] == [
        ("2 Ω", False),
        ("8 Ω", True),
        ("16 Ω", False),
    ]
    assert series["explanation"] == "Series resistances add up."
    [upload_id] = image_ids(series["prompt"])
    # The course's student sees the picture once the question is in front of them: not
    # while the quiz is a draft, but in their attempt of the published quiz.
    assert room.learner.get(f"/media/{upload_id}").status_code == 403
    quiz_api = f"/api/courses/{room.course.slug}/quizzes/{quiz['id']}"
    published = room.teacher.call("PATCH", quiz_api, json={"published": True})
    assert published.status_code == 200, published.text
    started = room.learner.call("POST", f"{quiz_api}/attempts")
    assert started.status_code in (200, 201), started.text
    picture = room.learner.get(f"/media/{upload_id}")
    assert picture.content == samples.CANVAS_IMAGE.read_bytes()
    # Canvas titles a question it was not given a title for "Question": the prompt names it.
    volts = questions["Voltage is measured in volts."]
    assert volts["kind"] == "TRUE_FALSE" and volts["correct"] is True
    insulators = questions["Insulators"]
    assert [c["text"] for c in insulators["choices"] if c["correct"]] == ["Glass", "Rubber"]
    assert questions["Charge carrier"]["answers"] == [
        {"mode": "case_insensitive", "value": "electron"},
        {"mode": "case_insensitive", "value": "electrons"},
    ]
    assert questions["Current"]["answers"] == [
        {"mode": "numeric", "value": 3.0, "abs_tol": 0.1, "rel_tol": 0.0}
    ]
    assert questions["Voltage range"]["answers"] == [
        {"mode": "numeric", "value": 1.5, "abs_tol": 0.5, "rel_tol": 0.0}
    ]
    assert questions["Short circuit"]["kind"] == "ESSAY"
    assert questions["Short circuit"]["points"] == 3
    # The questions went onto the quiz too, in the file's order.
    slots = made["quiz"]["slots"]
    assert [slot["question"]["title"] for slot in slots] == [q["title"] for q in made["questions"]]
    assert made["quiz"]["max_score"] == 2 + 1 + 2 + 1 + 2 + 1 + 3
    assert stored(db, room.course) == (7, 1)


# -- refusals -----


@pytest.mark.parametrize(
    ("name", "make", "status", "says"),
    [
        ("bomb.xml", samples.entity_bomb, 400, "declares a DTD or XML entities"),
        ("xxe.xml", samples.external_entity, 400, "declares a DTD or XML entities"),
        ("slip.zip", samples.zip_slip, 400, "leads outside it ('../../outside.txt')"),
        ("big.gift", samples.fifty_megabytes, 413, "at most 20 MB"),
        (
            "broken.xml",
            lambda: b"<quiz><question type='essay'><name>",
            400,
            "not well-formed XML (line 1",
        ),
        ("notes.xml", lambda: b"<notes><note/></notes>", 400, "root is <notes>, not <quiz>"),
        ("fake.zip", lambda: b"PK\x03\x04 not really a zip", 400, "not a readable zip"),
        ("empty.gift", lambda: b"   \n", 400, "The file is empty"),
        ("latin1.gift", lambda: "::Café:: Olé? {T}".encode("latin-1"), 400, "not UTF-8"),
        (
            "only-matching.gift",
            lambda: b"::M:: Match {=a -> 1 =b -> 2}",
            422,
            "every question was skipped",
        ),
    ],
)
def test_bad_files_are_refused_clearly_and_nothing_is_created(
    room, db, platform, name, make, status, says
):  # type: ignore[no-untyped-def]
    uploads_before = set((platform.data_dir / "uploads").glob("*"))
    answer = send(room.teacher, f"{room.bank}/import", make(), name)
    assert answer.status_code == status, answer.text
    assert says in answer.json()["error"]
    if status != 422:
        shown = send(room.teacher, f"{room.bank}/import/preview", make(), name)
        assert shown.status_code == status and says in shown.json()["error"]
    assert stored(db, room.course) == (0, 0)
    assert set((platform.data_dir / "uploads").glob("*")) == uploads_before
    assert not (platform.data_dir / "outside.txt").exists()


def test_an_image_that_is_not_a_picture_is_left_out_with_a_note(room, db):  # type: ignore[no-untyped-def]
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
    data = samples.moodle_xml().replace(
        b"iVBORw0KGgoAAAANSUhEUgAAAAQAAAADCAIAAAA7ljmRAAAAEElEQVR4nGM4IScHRww4OQD1xwwxB+utmQAAAABJRU5ErkJggg==",
        __import__("base64").b64encode(svg),
    )
    made = import_file(room, data, "questions.xml")
    ohm = by_title(made["questions"])["Ohm's law"]
    assert ohm["prompt"].startswith("In the circuit a resistor and a battery, what is")
    assert stored(db, room.course) == (6, 0)


def test_students_cannot_import_or_export(room, db):  # type: ignore[no-untyped-def]
    for path in ("import/preview", "import"):
        answer = send(room.learner, f"{room.bank}/{path}", samples.gift(), "week3.txt")
        assert answer.status_code == 403, answer.text
    for fmt in ("moodle_xml", "qti"):
        assert room.learner.get(f"{room.bank}/export", params={"format": fmt}).status_code == 403
    assert stored(db, room.course) == (0, 0)


# -- round trips -----


def comparable(question: dict[str, Any], *, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """A question as another course would have it: without its id and image addresses."""
    import re

    body = {k: v for k, v in question.items() if k not in ("id", *drop)}
    text = repr(body)
    return {"shape": re.sub(r"/services/coursehub/media/\d+", "IMAGE", text)}


def export(room: Room, fmt: str, **params: Any) -> httpx.Response:
    answer = room.teacher.get(f"{room.bank}/export", params={"format": fmt, **params})
    assert answer.status_code == 200, answer.text
    return answer


@pytest.mark.parametrize(
    ("sample", "name", "fmt", "lost"),
    [
        (samples.moodle_xml, "moodle.xml", "moodle_xml", ()),
        (samples.gift, "week3.gift", "moodle_xml", ()),
        # Canvas keeps no tags and no notes for graders.
        (samples.canvas_zip, "canvas.zip", "qti", ("tags", "guidance")),
        (samples.gift, "week3.gift", "qti", ("tags", "guidance")),
    ],
)
def test_an_exported_bank_imports_back_to_the_same_questions(  # type: ignore[no-untyped-def]
    room, platform, signed_in, make_account, database_url, sample, name, fmt, lost
):
    first = import_file(room, sample(), name)["questions"]
    exported = export(room, fmt)
    assert "attachment" in exported.headers["Content-Disposition"]
    if fmt == "qti":
        with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
            names = archive.namelist()
        assert "imsmanifest.xml" in names
        assert any(n.startswith("web_resources/quiz_images/") for n in names) == (
            "IMAGE" in repr([comparable(q) for q in first])
        )

    instructor = make_account(Role.INSTRUCTOR)
    other = make_course(database_url, instructor, title=f"Copy {unique_word()}", modules={})
    teacher = open_session(platform, signed_in, instructor)
    answer = send(
        teacher, f"/api/courses/{other.slug}/quiz-bank/import", exported.content, f"export.{fmt}"
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["skipped"] == []
    second = answer.json()["questions"]
    assert [comparable(q, drop=lost) for q in second] == [comparable(q, drop=lost) for q in first]
    # The images came along: the same bytes, now the other course's own uploads.
    for before, after in zip(first, second, strict=True):
        for old, new in zip(image_ids(before["prompt"]), image_ids(after["prompt"]), strict=True):
            assert old != new
            assert teacher.get(f"/media/{new}").content == room.teacher.get(f"/media/{old}").content


def test_a_quiz_exports_only_its_own_questions_and_leaves_out_code(room):  # type: ignore[no-untyped-def]
    from urllib.parse import unquote

    from tests.assignment_data import SOLUTION, TESTS
    from tests.quiz_data import essay

    quizzes = f"/api/courses/{room.course.slug}/quizzes"
    quiz = room.teacher.call("POST", quizzes, json={"title": "Only one"}).json()
    code = {
        "kind": "CODE",
        "title": "Add two",
        "prompt": "Write add.",
        "solution": SOLUTION,
        "tests": TESTS,
    }
    for question in (essay("Why test?"), code):
        room.teacher.call(
            "POST", f"{quizzes}/{quiz['id']}/slots", json={"question": question}
        ).raise_for_status()
    import_file(room, samples.gift(), "week3.gift")  # in the bank, not in the quiz
    only = export(room, "moodle_xml", quiz_id=quiz["id"])
    assert only.content.count(b"<question ") == 1 and b"Why test?" in only.content
    assert "Add two: code questions have no counterpart" in unquote(
        only.headers["X-CourseHub-Left-Out"]
    )
    bank = export(room, "moodle_xml")
    assert bank.content.count(b"<question ") == 9
