"""Progress in the course player: completion per kind of lesson, course progress and
completion, video watch progress, time spent with heartbeats, and bad input that changes
nothing."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from coursehub.hub.constants import Role
from coursehub.services.models import Enrollment, LessonKind, LessonProgress
from tests.player_data import BuiltCourse, LessonSpec, build_course, enroll, xsrf_headers


def progress_of(
    db: Callable[[], Session], account_id: int, lesson_id: int
) -> LessonProgress | None:
    with db() as session:
        return session.scalar(
            select(LessonProgress).where(
                LessonProgress.account_id == account_id, LessonProgress.lesson_id == lesson_id
            )
        )


def enrollment_of(db: Callable[[], Session], account_id: int, course: BuiltCourse) -> Enrollment:
    with db() as session:
        return session.scalar(
            select(Enrollment).where(
                Enrollment.account_id == account_id, Enrollment.course_id == course.id
            )
        )


class Student:
    """A signed-in student on a course's player, posting as the player's script does."""

    def __init__(self, platform, http: httpx.Client, course: BuiltCourse, first: str) -> None:
        self.platform, self.http, self.course = platform, http, course
        page = http.get(course.url(platform.service_url, first))
        assert page.status_code == 200, page.text[:300]
        self.headers = xsrf_headers(http, page)

    def open(self, title: str) -> httpx.Response:
        return self.http.get(self.course.url(self.platform.service_url, title))

    def post(self, title: str, action: str, body: object = None, raw: str | None = None):
        url = self.course.api(self.platform.service_url, title, action)
        if raw is not None:
            headers = {**self.headers, "Content-Type": "application/json"}
            return self.http.post(url, content=raw, headers=headers)
        return self.http.post(url, json=body or {}, headers=self.headers)


@pytest.fixture
def course_and_student(platform, db, make_account, signed_in):
    instructor, account = make_account(Role.INSTRUCTOR), make_account()
    course = build_course(
        db,
        instructor,
        [
            LessonSpec("Read", kind=LessonKind.TEXT),
            LessonSpec("Compute", kind=LessonKind.NOTEBOOK),
            LessonSpec("Watch", kind=LessonKind.VIDEO, video=True),
            LessonSpec("Extra", kind=LessonKind.TEXT, required=False, preview=True),
            LessonSpec("Test", kind=LessonKind.QUIZ, required=False),
        ],
    )
    enroll(db, account, course)
    return course, account, Student(platform, signed_in(account), course, "Read")


def test_reading_to_the_end_completes_text_and_notebook_lessons_and_then_the_course(
    db, course_and_student
):
    course, account, student = course_and_student
    # Three required lessons (text, notebook, video); "Extra" and "Test" are optional.
    done = student.post("Read", "complete", {"how": "end"})
    assert done.status_code == 200, done.text
    assert done.json()["course"] == {"progress": pytest.approx(1 / 3), "completed": False}
    again = student.post("Read", "complete", {"how": "button"})
    assert again.json()["course"]["progress"] == pytest.approx(1 / 3)
    first = progress_of(db, account.id, course.lessons["Read"]).completed_at

    assert student.post("Extra", "complete").json()["course"]["progress"] == pytest.approx(1 / 3)
    assert student.post("Compute", "complete").json()["course"]["progress"] == pytest.approx(2 / 3)
    assert enrollment_of(db, account.id, course).completed_at is None

    watched = student.post("Watch", "video", {"position_seconds": 110, "watched_fraction": 0.95})
    assert watched.json()["completed"] is True
    assert watched.json()["course"] == {"progress": 1.0, "completed": True}
    enrollment = enrollment_of(db, account.id, course)
    assert enrollment.progress == 1.0 and enrollment.completed_at is not None
    assert progress_of(db, account.id, course.lessons["Read"]).completed_at == first


@pytest.mark.parametrize(
    ("title", "status", "says"),
    [("Watch", 409, "watched"), ("Test", 409, "assessments")],
    ids=["video", "quiz"],
)
def test_videos_and_assessments_do_not_complete_by_button(
    db, course_and_student, title, status, says
):
    course, account, student = course_and_student
    response = student.post(title, "complete")
    assert response.status_code == status
    assert says in response.json()["error"]
    row = progress_of(db, account.id, course.lessons[title])
    assert row is None or row.completed_at is None


def test_video_progress_keeps_the_position_and_the_largest_share_watched(db, course_and_student):
    course, account, student = course_and_student
    lesson = course.lessons["Watch"]
    first = student.post("Watch", "video", {"position_seconds": 30, "watched_fraction": 0.5})
    assert first.status_code == 200
    assert first.json() == {"watched_fraction": 0.5, "position_seconds": 30.0, "completed": False}
    back = student.post("Watch", "video", {"position_seconds": 12.5, "watched_fraction": 0.2})
    assert back.json()["watched_fraction"] == 0.5
    row = progress_of(db, account.id, lesson)
    assert (row.video_position_seconds, row.video_watched_fraction) == (12.5, 0.5)
    assert row.completed_at is None
    # A share a hair over the whole video (summed played ranges) counts as the whole video.
    over = student.post("Watch", "video", {"position_seconds": 120, "watched_fraction": 1.0000001})
    assert over.json()["watched_fraction"] == 1.0 and over.json()["completed"] is True
    page = student.open("Watch").text
    assert "&#34;videoPosition&#34;: 120.0" in page and "&#34;completed&#34;: true" in page


BAD_VIDEO_REPORTS = [
    ('{"position_seconds": 10, "watched_fraction": -0.1}', "negative fraction"),
    ('{"position_seconds": 10, "watched_fraction": NaN}', "NaN fraction"),
    ('{"position_seconds": 10, "watched_fraction": Infinity}', "infinite fraction"),
    ('{"position_seconds": 10, "watched_fraction": "0.9"}', "fraction as text"),
    ('{"position_seconds": -1, "watched_fraction": 0.9}', "negative position"),
    ('{"position_seconds": NaN, "watched_fraction": 0.9}', "NaN position"),
    ('{"position_seconds": 10}', "no fraction"),
    ('{"position_seconds": 10, "watched_fraction": true}', "fraction as boolean"),
    ("[0.9]", "not an object"),
    ("{not json", "not JSON"),
]


@pytest.mark.parametrize(
    "raw", [raw for raw, _ in BAD_VIDEO_REPORTS], ids=[name for _, name in BAD_VIDEO_REPORTS]
)
def test_bad_video_reports_are_refused_and_change_nothing(db, course_and_student, raw):
    course, account, student = course_and_student
    assert student.post(
        "Watch", "video", {"position_seconds": 5, "watched_fraction": 0.3}
    ).is_success
    response = student.post("Watch", "video", raw=raw)
    assert response.status_code == 400, response.text
    assert response.json()["error"]
    row = progress_of(db, account.id, course.lessons["Watch"])
    assert (row.video_position_seconds, row.video_watched_fraction) == (5, 0.3)


def test_video_reports_on_other_kinds_of_lesson_are_refused(db, course_and_student):
    course, account, student = course_and_student
    response = student.post("Read", "video", {"position_seconds": 1, "watched_fraction": 1})
    assert response.status_code == 409
    assert progress_of(db, account.id, course.lessons["Read"]).video_watched_fraction == 0


def test_heartbeats_count_time_spent_but_a_flood_counts_once(db, course_and_student):
    course, account, student = course_and_student
    lesson = course.lessons["Read"]
    first = student.post("Read", "heartbeat", {"seconds": 30})
    assert first.status_code == 200
    assert first.json() == {"counted_seconds": 30, "time_spent_seconds": 30}
    flood = [student.post("Read", "heartbeat", {"seconds": 30}) for _ in range(5)]
    assert [response.status_code for response in flood] == [429] * 5
    assert "at most once every" in flood[0].json()["error"]
    assert progress_of(db, account.id, lesson).time_spent_seconds == 30
    # Another lesson has its own allowance.
    assert student.post("Compute", "heartbeat", {"seconds": 12}).json()["time_spent_seconds"] == 12


@pytest.mark.parametrize(
    "raw",
    ['{"seconds": 0}', '{"seconds": -30}', '{"seconds": 31}', '{"seconds": 1e9}',
     '{"seconds": NaN}', '{"seconds": "30"}', "{}", '{"seconds": null}'],
)  # fmt: skip
def test_bad_heartbeats_are_refused_and_change_nothing(db, course_and_student, raw):
    course, account, student = course_and_student
    response = student.post("Read", "heartbeat", raw=raw)
    assert response.status_code == 400, response.text
    assert progress_of(db, account.id, course.lessons["Read"]).time_spent_seconds == 0
    # A refused heartbeat does not use up the allowance either.
    assert student.post("Read", "heartbeat", {"seconds": 10}).status_code == 200


def test_progress_needs_an_enrollment_and_the_page_s_xsrf_token(
    platform, db, make_account, signed_in, course_and_student
):
    course, account, student = course_and_student
    visitor_account = make_account()
    visitor = Student(platform, signed_in(visitor_account), course, "Extra")  # a preview
    for action, body in (("complete", {}), ("heartbeat", {"seconds": 5})):
        refused = visitor.post("Extra", action, body)
        assert refused.status_code == 403
        assert "Only enrolled students have progress" in refused.json()["error"]
        no_token = student.http.post(course.api(platform.service_url, "Read", action), json=body)
        assert no_token.status_code == 403
        assert "form expired" in no_token.json()["error"]
    assert progress_of(db, visitor_account.id, course.lessons["Extra"]) is None
    row = progress_of(db, account.id, course.lessons["Read"])
    assert row.completed_at is None and row.time_spent_seconds == 0


def test_progress_can_be_read_back(platform, course_and_student):
    course, _account, student = course_and_student
    student.post("Read", "complete")
    student.post("Read", "heartbeat", {"seconds": 20})
    report = student.http.get(course.api(platform.service_url, "Read", "progress")).json()
    assert report["lesson"]["completed"] is True
    assert report["lesson"]["time_spent_seconds"] == 20
    assert report["course"]["progress"] == pytest.approx(1 / 3)
    assert report["course"]["last_lesson_id"] == course.lessons["Read"]
