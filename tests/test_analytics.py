"""``analytics``: a course's figures recomputed into its rollups on the real database, and
read back as its staff see them, checked against numbers worked out by hand: the completion
funnel, the test cells' pass rates, failures, attempts and hours to a first pass, the grade
distribution, the students at risk; and the refusals (someone else's course, nonsense dates).

The course: three lessons (two texts, a video) and four students. Ann did everything, Ben
read the first lesson and opened the second, Cy opened the first, Dee enrolled 20 days ago
and never came back. The assignment has two test cells; five graded attempts:

=========  ===========  =================================  ================================
attempt    hours after  test_a                             test_b
           release
=========  ===========  =================================  ================================
Ann 1      2            pass                               AssertionError: wrong mean
Ann 2      5            pass                               pass
Ben 1      1            NameError: name 'x' is not defined A hidden test failed.
Ben 2      3            NameError: name 'x' is not defined A hidden test failed.
Cy 1       4            pass                               AssertionError: wrong mean
=========  ===========  =================================  ================================
"""

from __future__ import annotations

import csv as csv_module
import hashlib
import io
from datetime import date, timedelta

import pytest
from alembic import command
from sqlalchemy import create_engine, func, select, text, update

from coursehub.hub.constants import Role
from coursehub.services.analytics import course_analytics, platform_analytics, rollups
from coursehub.services.analytics.filters import group_from, module_from, period_from
from coursehub.services.analytics.student_progress import my_progress
from coursehub.services.analytics.tables import Table, as_csv
from coursehub.services.courses import groups
from coursehub.services.errors import Refusal
from coursehub.services.learning import progress
from coursehub.services.learning.progress import ProgressError
from coursehub.services.migrate import alembic_config
from coursehub.services.models import (
    Account,
    Assignment,
    Course,
    Enrollment,
    Grade,
    LessonKind,
    LessonProgress,
    Profile,
    Submission,
    SubmissionStatus,
    utcnow,
)
from coursehub.services.models.analytics import (
    AutogradedCellRollup,
    CourseRollup,
    GroupLessonRollup,
    StudentRollup,
)
from coursehub.services.settings import sqlalchemy_url
from tests.platform import create_database, drop_database
from tests.service_data import course_with, lessons_in
from tests.teaching_client import open_session

PASSED = "Passed."
WRONG_MEAN = "AssertionError: wrong mean"
NO_X = "NameError: name 'x' is not defined"
HIDDEN = "A hidden test failed."


def _cells(a: str, b: str) -> list[dict[str, object]]:
    return [
        {
            "grade_id": grade_id,
            "kind": "autograded_test",
            "score": 1.0 if feedback == PASSED else 0.0,
            "max_points": 1.0,
            "feedback": feedback,
        }
        for grade_id, feedback in (("test_a", a), ("test_b", b))
    ]


@pytest.fixture
def course_story(db, make_account):
    teacher = make_account(Role.INSTRUCTOR)
    ann, ben, cy, dee = (make_account(Role.STUDENT) for _ in range(4))
    course = course_with(db, teacher, students=[ann, ben, cy, dee], title="Data Analysis")
    first, second, video = lessons_in(
        db, course, LessonKind.TEXT, LessonKind.TEXT, LessonKind.VIDEO
    )
    now = utcnow()
    released = now - timedelta(days=10)
    with db() as session:
        for who, progress, done in [(ann, 1.0, now), (ben, 1 / 3, None), (cy, 0.0, None)]:
            session.execute(
                update(Enrollment)
                .where(Enrollment.account_id == who.id, Enrollment.course_id == course.id)
                .values(progress=progress, completed_at=done, last_active_at=now)
            )
        session.execute(
            update(Enrollment)
            .where(Enrollment.account_id == dee.id, Enrollment.course_id == course.id)
            .values(enrolled_at=now - timedelta(days=20))
        )
        session.add_all(
            [
                LessonProgress(
                    account_id=ann.id, lesson_id=first.id, completed_at=now, time_spent_seconds=600
                ),
                LessonProgress(
                    account_id=ann.id, lesson_id=second.id, completed_at=now, time_spent_seconds=300
                ),
                LessonProgress(
                    account_id=ann.id,
                    lesson_id=video.id,
                    completed_at=now,
                    time_spent_seconds=120,
                    video_watched_fraction=1.0,
                ),
                LessonProgress(
                    account_id=ben.id, lesson_id=first.id, completed_at=now, time_spent_seconds=300
                ),
                LessonProgress(account_id=ben.id, lesson_id=second.id, time_spent_seconds=60),
                LessonProgress(account_id=cy.id, lesson_id=first.id, time_spent_seconds=30),
            ]
        )
        assignment = Assignment(
            course_id=course.id,
            title="Weather checks",
            source_notebook={},
            student_notebook={},
            source_sha256="0" * 64,
            grade_cells=[
                {"grade_id": "test_a", "kind": "autograded_test", "max_points": 1},
                {"grade_id": "test_b", "kind": "autograded_test", "max_points": 1},
            ],
            max_score=2,
            released_at=released,
        )
        session.add(assignment)
        session.flush()
        for who, attempt, hours, a, b in [
            (ann, 1, 2, PASSED, WRONG_MEAN),
            (ann, 2, 5, PASSED, PASSED),
            (ben, 1, 1, NO_X, HIDDEN),
            (ben, 2, 3, NO_X, HIDDEN),
            (cy, 1, 4, PASSED, WRONG_MEAN),
        ]:
            body = f"{who.id}-{attempt}".encode()
            submission = Submission(
                assignment_id=assignment.id,
                account_id=who.id,
                attempt=attempt,
                received_at=released + timedelta(hours=hours),
                sha256=hashlib.sha256(body).hexdigest(),
                notebook=body,
                size=len(body),
                status=SubmissionStatus.GRADED,
            )
            session.add(submission)
            session.flush()
            score = float((a == PASSED) + (b == PASSED))
            session.add(
                Grade(
                    submission_id=submission.id,
                    outcome="graded",
                    cells=_cells(a, b),
                    score=score,
                    max_score=2,
                    final_score=score,
                )
            )
        session.commit()
        session.expunge_all()
    return {
        "teacher": teacher,
        "students": (ann, ben, cy, dee),
        "course": course,
        "lessons": (first, second, video),
        "assignment": assignment,
        "now": now,
    }


async def test_the_course_figures_are_the_ones_worked_out_by_hand(course_story, sessions):
    course, now = course_story["course"], course_story["now"]
    _ann, ben, _cy, dee = course_story["students"]
    async with sessions() as session:
        await rollups.refresh_course(session, course.id, now)
        await session.commit()
        found = await course_analytics.course_analytics(
            session, course, period_from(None, None, now.date()), None
        )

    funnel = {row[1]: row[3:8] for row in found.tables["funnel"].rows}
    # started, completed, completion %, median minutes, total hours
    assert funnel["Text lesson 1"] == [3, 2, 66.7, 5.0, round(930 / 3600, 2)]
    assert funnel["Text lesson 2"] == [2, 1, 50.0, 3.0, round(360 / 3600, 2)]
    assert funnel["Video lesson 3"] == [1, 1, 100.0, 2.0, round(120 / 3600, 2)]
    assert found.tables["funnel"].rows[2][8] == "0 0 0 0 0 0 0 0 0 1"  # watched to the end

    cells = {row[1]: row for row in found.tables["test_cells"].rows}
    # attempts, pass %, students, students passed, mean attempts to pass, median hours
    assert cells["test_a"][2:8] == [5, 60.0, 3, 2, 1.0, 3.0]
    assert cells["test_b"][2:8] == [5, 20.0, 3, 1, 2.0, 5.0]
    async with sessions() as session:
        test_b = await session.get_one(
            AutogradedCellRollup, (course_story["assignment"].id, "test_b")
        )
    assert test_b.failures == [
        {"type": "Hidden test", "message": HIDDEN, "count": 2},
        {"type": "AssertionError", "message": WRONG_MEAN, "count": 2},
    ]
    assert "NameError: name 'x' is not defined (2 times)" in cells["test_a"][8]

    (grades,) = found.tables["grades"].rows  # best attempts: Ann 100 %, Ben 0 %, Cy 50 %
    assert grades[:5] == ["assignment", "Weather checks", 3, 50.0, 50.0]
    assert grades[5:] == [1, 0, 0, 0, 0, 1, 0, 0, 0, 1]

    # Dee: enrolled 20 days ago, never active; Ben: every attempt at 0 %. Cy, at 0 % progress,
    # is not "behind": the class median is 1/6, and behind means 25 points below it.
    assert [(p["username"], p["student"].reasons) for p in found.at_risk] == [
        (dee.username, ["inactive"]),
        (ben.username, ["failing"]),
    ]
    summary = found.summary
    assert (summary.students, summary.completed, summary.at_risk) == (4, 1, 2)
    assert summary.active_7_days == 3
    today = {row[0]: row for row in found.tables["days"].rows}[now.date()]
    # enrolments, active students, lessons completed, course completions
    assert today[1:5] == [3, 3, 4, 1]
    assert sum(row[5] for row in found.tables["days"].rows) == 5  # every attempt


async def test_refreshing_again_gives_the_same_rows_and_the_module_filter_narrows_the_funnel(
    course_story, sessions
):
    course, now = course_story["course"], course_story["now"]
    async with sessions() as session:
        for _ in range(2):
            await rollups.refresh_course(session, course.id, now)
            await session.commit()
        rows = await session.scalars(
            select(StudentRollup.account_id).where(StudentRollup.course_id == course.id)
        )
        assert len(list(rows)) == 4
        module_id = (await course_analytics.module_ids(session, course.id))[0]
        assert module_from(str(module_id), {module_id}) == module_id
        with pytest.raises(Refusal, match="no such module"):
            module_from("999999", {module_id})


async def test_a_stale_course_asks_for_one_refresh_job_not_one_per_page_view(
    course_story, sessions
):
    course = course_story["course"]
    async with sessions() as session:
        assert await rollups.request_refresh(session, course.id) is True
        assert await rollups.request_refresh(session, course.id) is False  # asked already
        await session.commit()
        assert course.id in await rollups.courses_to_refresh(session)
        rollup = await session.get_one(CourseRollup, course.id)
        assert rollup.refreshed_at.year < 2000  # never computed yet


async def test_only_the_courses_staff_see_its_analytics(course_story, sessions, make_account):
    course = course_story["course"]
    stranger = make_account(Role.INSTRUCTOR)
    student = course_story["students"][0]
    async with sessions() as session:
        for outsider in (stranger, student):
            with pytest.raises(Refusal) as refused:
                await course_analytics.course_for_analytics(
                    session, await session.get_one(Account, outsider.id), course.id
                )
            assert refused.value.status == 403
        teacher = await session.get_one(Account, course_story["teacher"].id)
        shown = await course_analytics.course_for_analytics(session, teacher, course.id)
        assert isinstance(shown, Course)
        with pytest.raises(Refusal) as missing:
            await course_analytics.course_for_analytics(session, teacher, 2**31 - 2)
        assert missing.value.status == 404


@pytest.mark.parametrize(
    ("since", "until", "words"),
    [
        ("2026-13-01", None, "is not a date"),
        ("yesterday", None, "is not a date"),
        ("2026-06-01", "2026-05-01", "starts (2026-06-01) after it ends"),
        ("1999-12-31", "2000-01-05", "between 2000-01-01 and today"),
        ("2026-06-01", "2031-01-01", "between 2000-01-01 and today"),
        ("2020-01-01", "2026-06-01", "at most three years"),
    ],
    ids=["month 13", "a word", "backwards", "before 2000", "far future", "too long"],
)
def test_nonsense_date_ranges_are_refused_with_a_sentence(since, until, words):
    with pytest.raises(Refusal, match=words.replace("(", r"\(").replace(")", r"\)")) as refused:
        period_from(since, until, date(2026, 12, 7))
    assert refused.value.status == 400


def test_no_dates_mean_the_last_30_days():
    period = period_from(None, None, date(2026, 12, 7))
    assert (period.since, period.until, len(period.days)) == (
        date(2026, 11, 8),
        date(2026, 12, 7),
        30,
    )


async def test_a_student_sees_their_progress_grades_and_next_lesson(course_story, sessions):
    course, now = course_story["course"], course_story["now"]
    _ann, ben, _cy, _dee = course_story["students"]
    async with sessions() as session:
        await rollups.refresh_course(session, course.id, now)
        await course_analytics.set_show_class_median(session, course, True)
        await session.commit()
        (mine,) = await my_progress(session, await session.get_one(Account, ben.id), now)
    assert mine.modules.rows == [["Week 1", 3, 1, 6]]  # 360 s
    assert mine.next_lesson is not None and mine.next_lesson[1] == "Text lesson 2"
    assert [row[2:] for row in mine.grades.rows] == [[0.0, 50.0]]  # best 0 %, class median 50 %
    assert mine.over_time.rows == [[now.date(), 1, 1]]


async def test_the_platform_figures_of_today_count_accounts_enrolments_and_the_queue(
    course_story, sessions
):
    now = course_story["now"]
    async with sessions() as session:
        await rollups.refresh_platform(session, now)
        await session.commit()
        period = period_from(None, None, now.date())
        days = await platform_analytics.platform_days(session, period)
        queue = await platform_analytics.grading_queue(session, now)
        accounts = await session.scalar(select(func.count()).select_from(Account))
        enrolled_today = await session.scalar(
            select(func.count())
            .select_from(Enrollment)
            .where(func.date(func.timezone("UTC", Enrollment.enrolled_at)) == now.date())
        )
    today = days.rows[-1]
    assert today[0] == now.date()
    assert today[1] == accounts  # every account made so far, this test's five among them
    assert today[6] == enrolled_today >= 3  # Ann, Ben and Cy enrolled today
    measures = dict(queue.rows)
    assert set(measures) >= {"attempts waiting", "graded", "failed runs"}
    assert all(isinstance(measures[m], int) for m in ("attempts waiting", "graded"))


def test_a_csv_cell_that_a_spreadsheet_would_run_is_quoted():
    table = Table("t", "t", ["name", "score"], [["=HYPERLINK(1)", -3.5], ["Ann", None]])
    assert as_csv(table).splitlines() == ["name,score", "'=HYPERLINK(1),-3.5", "Ann,"]


async def test_a_student_whose_pace_falls_is_at_risk_before_going_quiet(db, make_account, sessions):
    """Eve completed two lessons 10 days ago and none since: not inactive yet (10 < 14
    days), but completing fewer than half as many lessons as the week before."""
    teacher, eve, fay = make_account(Role.INSTRUCTOR), make_account(), make_account()
    course = course_with(db, teacher, students=[eve, fay])
    lessons = lessons_in(db, course, *[LessonKind.TEXT] * 4)
    now = utcnow()
    with db() as session:
        for who, lesson, days_ago in [(eve, 0, 10), (eve, 1, 10), (fay, 0, 9), (fay, 1, 2)]:
            moment = now - timedelta(days=days_ago)
            session.add(
                LessonProgress(
                    account_id=who.id,
                    lesson_id=lessons[lesson].id,
                    first_opened_at=moment,
                    last_opened_at=moment,
                    completed_at=moment,
                )
            )
        session.execute(
            update(Enrollment).where(Enrollment.course_id == course.id).values(progress=0.5)
        )
        session.commit()
    async with sessions() as session:
        await rollups.refresh_course(session, course.id, now)
        await session.commit()
        found = await course_analytics.course_analytics(
            session, course, period_from(None, None, now.date()), None
        )
    assert [(p["username"], p["student"].reasons) for p in found.at_risk] == [
        (eve.username, ["slowing"])
    ]
    assert found.at_risk[0]["why"] == "Completing fewer lessons than the week before"


async def test_days_are_the_viewers_and_the_instructor_sets_when_silence_is_a_risk(
    db, make_account, sessions
):
    """Gus enrolled at 22:30 UTC five days ago and has not been seen since. His instructor
    lives in Tokyo (UTC+9): there it was already the next morning, and that is the day the
    page counts for her; a viewer in a zone nobody counted yet sees UTC days meanwhile. Five
    quiet days are no risk under the default 14; the instructor makes it 3, and Gus is."""
    teacher, gus = make_account(Role.INSTRUCTOR), make_account()
    course = course_with(db, teacher, students=[gus])
    now = utcnow()
    enrolled = (now - timedelta(days=5)).replace(hour=22, minute=30)
    with db() as session:
        session.add(Profile(account_id=teacher.id, time_zone="Asia/Tokyo"))
        session.execute(
            update(Enrollment)
            .where(Enrollment.course_id == course.id)
            .values(enrolled_at=enrolled, last_active_at=enrolled, progress=0.5)
        )
        session.commit()
    period = period_from(None, None, now.date())

    def enrolments_by_day(found) -> dict[date, int]:
        return {row[0]: row[1] for row in found.tables["days"].rows if row[1]}

    async with sessions() as session:
        await rollups.refresh_course(session, course.id, now)
        await session.commit()
        tokyo = await course_analytics.course_analytics(session, course, period, None, "Asia/Tokyo")
        utc = await course_analytics.course_analytics(session, course, period, None)
        nobody = await course_analytics.course_analytics(
            session, course, period, None, "America/Los_Angeles"
        )
    assert tokyo.time_zone == "Asia/Tokyo" and not tokyo.days_pending
    assert enrolments_by_day(tokyo) == {enrolled.date() + timedelta(days=1): 1}
    assert "Asia/Tokyo days" in tokyo.tables["days"].caption
    assert enrolments_by_day(utc) == {enrolled.date(): 1}
    assert nobody.days_pending and nobody.time_zone == "UTC"
    assert enrolments_by_day(nobody) == {enrolled.date(): 1}
    assert tokyo.inactive_days == 14 and tokyo.at_risk == []

    async with sessions() as session:
        for nonsense in ("0", "a week", "366"):
            with pytest.raises(Refusal, match="whole number from 1 to 365") as refused:
                await course_analytics.set_inactive_days(session, course, nonsense)
            assert refused.value.status == 400
        await course_analytics.set_inactive_days(session, course, "3")
        await session.commit()
        await rollups.refresh_course(session, course.id, now)
        await session.commit()
        found = await course_analytics.course_analytics(session, course, period, None)
    assert found.inactive_days == 3
    assert [(p["username"], p["why"]) for p in found.at_risk] == [
        (gus.username, "No activity for 3 days")
    ]


async def test_video_coverage_counts_the_parts_played_and_played_again(db, make_account, sessions):
    """Hal plays the first half of the video, then goes back to its second quarter; Ida
    plays its first tenth. Plays per twentieth: 2 on the first tenth, 1 up to a quarter, 2
    from a quarter to half (Hal again), none after; Hal re-watched 25-50 %."""
    teacher, hal, ida = make_account(Role.INSTRUCTOR), make_account(), make_account()
    course = course_with(db, teacher, students=[hal, ida])
    [video] = lessons_in(db, course, LessonKind.VIDEO)
    for who, reports in [(hal, [[[0, 0.5]], [[0.25, 0.5]]]), (ida, [[[0, 0.1]]])]:
        for played in reports:
            body = {"position_seconds": 60, "watched_fraction": 0.5, "played": played}
            async with sessions() as session:
                await progress.record_video(
                    session,
                    who.id,
                    course.id,
                    video.id,
                    *progress.video_report(body),
                    progress.video_segments(body),
                )
                await session.commit()
    for nonsense in ("the middle", [[0.5, 0.2]], [[0, 2]], [[0, True]], [[0, 0.1]] * 201):
        with pytest.raises(ProgressError, match="played") as refused:
            progress.video_segments({"played": nonsense})
        assert refused.value.status == 400
    assert progress.video_segments({}) == []  # a player from before segments were sent

    now = utcnow()
    async with sessions() as session:
        await rollups.refresh_course(session, course.id, now)
        await session.commit()
        found = await course_analytics.course_analytics(
            session, course, period_from(None, None, now.date()), None
        )
    [row] = found.tables["funnel"].rows
    plays = [int(n) for n in row[9].split()]
    again = [int(n) for n in row[10].split()]
    assert plays == [2, 2, 1, 1, 1, 2, 2, 2, 2, 2] + [0] * 10
    assert again == [0] * 5 + [1] * 5 + [0] * 10
    with db() as session:
        views = session.scalar(
            select(LessonProgress.video_views).where(
                LessonProgress.account_id == hal.id, LessonProgress.lesson_id == video.id
            )
        )
    assert views == [1] * 5 + [2] * 5 + [0] * 10


async def test_each_group_sees_its_own_funnel_grades_days_test_cells_and_students_at_risk(
    course_story, sessions
):
    """Ann and Ben are in group Monday, Cy in group Tuesday, Dee in none (set as the
    instructor sets them on the students page). Monday, by hand: the first lesson started and
    completed by both (600 s and 300 s: median 7.5 min), the second started by both and
    completed by Ann (300 s and 60 s: median 3 min), the video by Ann; best grades 100 % and
    0 %; Ben at risk (failing); today 2 active, 4 lessons completed, Ann's course completion;
    4 attempts, test_a passed in 2 of them (Ann's, first at 2 h), test_b in 1 (Ann's second,
    at 5 h). Tuesday: Cy opened the first lesson (30 s), best grade 50 %, 1 attempt (test_a
    passed at 4 h, test_b failed)."""
    course, now = course_story["course"], course_story["now"]
    ann, ben, cy, dee = course_story["students"]
    async with sessions() as session:
        assert await groups.set_group(session, course, ann.username, " Monday ") == "Monday"
        await groups.set_group(session, course, ben.username, "Monday")
        await groups.set_group(session, course, cy.username, "Tuesday")
        assert await groups.set_group(session, course, dee.username, "   ") is None
        with pytest.raises(Refusal, match="60 characters"):
            await groups.set_group(session, course, cy.username, "x" * 61)
        with pytest.raises(Refusal, match="not enrolled"):
            await groups.set_group(session, course, "nobody-at-all", "Monday")
        await session.commit()
        await rollups.refresh_course(session, course.id, now)
        await session.commit()
        period = period_from(None, None, now.date())
        every = await course_analytics.course_analytics(session, course, period, None)
        monday = await course_analytics.course_analytics(
            session, course, period, None, group="Monday"
        )
        tuesday = await course_analytics.course_analytics(
            session, course, period, None, group="Tuesday"
        )
    assert every.groups == ["Monday", "Tuesday"]
    assert every.tables["funnel"].rows[0][3:5] == [3, 2]  # the whole course as before

    # started, completed, completion %, median minutes, total hours, students per tenth of
    # the video watched (Ann watched all of it)
    assert [row[3:9] for row in monday.tables["funnel"].rows] == [
        [2, 2, 100.0, 7.5, 0.25, ""],
        [2, 1, 50.0, 3.0, 0.1, ""],
        [1, 1, 100.0, 2.0, round(120 / 3600, 2), "0 0 0 0 0 0 0 0 0 1"],
    ]
    assert [row[3:8] for row in tuesday.tables["funnel"].rows] == [
        [1, 0, 0.0, 0.5, 0.01],
        [0, 0, None, None, 0],
        [0, 0, None, None, 0],
    ]
    (grades,) = monday.tables["grades"].rows
    assert grades[2:] == [2, 50.0, 50.0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    (grades,) = tuesday.tables["grades"].rows
    assert grades[2:] == [1, 50.0, 50.0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]

    assert [p["username"] for p in monday.at_risk] == [ben.username]
    assert tuesday.at_risk == []
    s = monday.summary
    assert (s.students, s.completed, s.active_7_days, s.at_risk) == (2, 1, 2, 1)
    assert s.median_progress == pytest.approx(2 / 3)
    s = tuesday.summary
    assert (s.students, s.completed, s.active_7_days, s.at_risk) == (1, 0, 1, 0)

    for found, today_figures, attempts in ((monday, [2, 2, 4, 1], 4), (tuesday, [1, 1, 0, 0], 1)):
        today = {row[0]: row for row in found.tables["days"].rows}[now.date()]
        assert today[1:5] == today_figures
        assert sum(row[5] for row in found.tables["days"].rows) == attempts
    assert "(group Monday)" in monday.tables["funnel"].caption

    # test cells: attempts, pass %, students, passed, mean attempts to pass, median hours
    cells = {row[1]: row for row in monday.tables["test_cells"].rows}
    assert cells["test_a"][2:8] == [4, 50.0, 2, 1, 1.0, 2.0]
    assert cells["test_b"][2:8] == [4, 25.0, 2, 1, 2.0, 5.0]
    assert cells["test_b"][8] == f"{HIDDEN} (2 times); {WRONG_MEAN} (1 times)"
    cells = {row[1]: row for row in tuesday.tables["test_cells"].rows}
    assert cells["test_a"][2:8] == [1, 100.0, 1, 1, 1.0, 4.0]
    assert cells["test_b"][2:8] == [1, 0.0, 1, 0, None, None]

    assert group_from("Tuesday", every.groups) == "Tuesday"
    assert group_from("", every.groups) is None
    with pytest.raises(Refusal, match="no such group"):
        group_from("Wednesday", every.groups)


async def test_the_instructor_sets_groups_on_the_students_page_and_filters_the_json_and_csv(
    course_story, sessions, platform, signed_in, make_account
):
    course, now = course_story["course"], course_story["now"]
    ann, ben, cy, _dee = course_story["students"]
    teacher = open_session(platform, signed_in, course_story["teacher"])
    page = f"/teach/courses/{course.id}/students"
    for who, group in ((ann, "Monday"), (ben, "Monday"), (cy, "Tuesday")):
        saved = teacher.form(page, {"username": who.username, "group": group})
        assert saved.status_code == 200 and 'id="group_saved"' in saved.text
    listed = teacher.get(f"/api/teach/courses/{course.id}/students").json()["students"]
    assert {s["username"]: s["group_name"] for s in listed}[cy.username] == "Tuesday"
    for outsider in (make_account(Role.INSTRUCTOR), ann):
        other = open_session(platform, signed_in, outsider)
        refused = other.form(page, {"username": cy.username, "group": "Monday"})
        assert refused.status_code in (403, 404)
    async with sessions() as session:
        enrolment = await session.scalar(
            select(Enrollment).where(
                Enrollment.account_id == cy.id, Enrollment.course_id == course.id
            )
        )
        assert enrolment.group_name == "Tuesday"  # the outsiders changed nothing
        await rollups.refresh_course(session, course.id, now)
        await session.commit()

    figures = teacher.get(f"/api/teach/courses/{course.id}/analytics?group=Monday").json()
    assert (figures["group"], figures["groups"]) == ("Monday", ["Monday", "Tuesday"])
    assert figures["summary"]["students"] == 2
    assert [row["student"] for row in figures["tables"]["at_risk"]["rows"]] == [ben.username]
    csv = teacher.get(f"/teach/courses/{course.id}/analytics/funnel.csv?group=Tuesday")
    assert csv.status_code == 200
    first = list(csv_module.reader(io.StringIO(csv.text)))[1]
    assert first[3:5] == ["1", "0"]  # Cy opened the first lesson and did not complete it
    html = teacher.get(f"/teach/courses/{course.id}/analytics?group=Tuesday")
    assert 'id="group_note"' in html.text and '<option value="Tuesday" selected>' in html.text
    unknown = teacher.get(f"/api/teach/courses/{course.id}/analytics?group=Wednesday")
    assert unknown.status_code == 400 and "no such group" in unknown.text


async def _play(sessions, who, course, video, watched: float, *reports) -> None:
    """``who``'s player reports the segments it played, one report at a time."""
    for played in reports:
        body = {"position_seconds": 60, "watched_fraction": watched, "played": played}
        async with sessions() as session:
            await progress.record_video(
                session,
                who.id,
                course.id,
                video.id,
                *progress.video_report(body),
                progress.video_segments(body),
            )
            await session.commit()


@pytest.fixture
async def video_groups(db, make_account, sessions):
    """One video, five students. Group Monday: Hal plays the first half, then its second
    quarter again (watched half of it); Ida plays the first tenth (watched 15 %). Group
    Tuesday: Jo plays the second half twice (watched half). Group Wednesday: Kim never opens
    the video. Lou, in no group, plays the last tenth (watched 12 %)."""
    teacher = make_account(Role.INSTRUCTOR)
    hal, ida, jo, kim, lou = (make_account() for _ in range(5))
    course = course_with(db, teacher, students=[hal, ida, jo, kim, lou], title="Film Studies")
    _reading, video = lessons_in(db, course, LessonKind.TEXT, LessonKind.VIDEO)
    async with sessions() as session:
        for who, group in ((hal, "Monday"), (ida, "Monday"), (jo, "Tuesday"), (kim, "Wednesday")):
            await groups.set_group(session, course, who.username, group)
        await session.commit()
    await _play(sessions, hal, course, video, 0.5, [[0, 0.5]], [[0.25, 0.5]])
    await _play(sessions, ida, course, video, 0.15, [[0, 0.1]])
    await _play(sessions, jo, course, video, 0.5, [[0.5, 1.0]], [[0.5, 1.0]])
    await _play(sessions, lou, course, video, 0.12, [[0.9, 1.0]])
    now = utcnow()
    async with sessions() as session:
        await rollups.refresh_course(session, course.id, now)
        await session.commit()
    return {"teacher": teacher, "course": course, "video": video, "now": now}


def _video_columns(found) -> dict[str, list[int]]:
    """The video's row of the funnel: students per tenth watched, plays and students
    re-watching per twentieth."""
    [row] = [row for row in found.tables["funnel"].rows if row[2] == "video"]
    return {
        name: [int(n) for n in row[index].split()]
        for name, index in (("watched", 8), ("plays", 9), ("again", 10))
    }


async def test_each_group_sees_the_parts_of_the_video_its_own_students_watched(
    video_groups, sessions
):
    """By hand, plays per twentieth: Monday 2 on the first tenth (Hal and Ida), 1 up to a
    quarter (Hal), 2 from a quarter to half (Hal's second play, so Hal re-watched those five
    twentieths), none after. Tuesday: 2 on each twentieth of the second half, Jo re-watching
    all ten. The course: both groups' plays plus Lou's last tenth (3 there); its figures are
    the ones it had before groups counted videos. Wednesday watched nothing: an empty
    coverage, not an error. The period chooses the days, never the videos' figures."""
    course, now = video_groups["course"], video_groups["now"]
    period = period_from(None, None, now.date())
    async with sessions() as session:
        every, monday, tuesday, wednesday = [
            await course_analytics.course_analytics(session, course, period, None, group=group)
            for group in (None, "Monday", "Tuesday", "Wednesday")
        ]
        long_ago = await course_analytics.course_analytics(
            session,
            course,
            period_from("2020-01-01", "2020-01-31", now.date()),
            None,
            group="Tuesday",
        )

    assert _video_columns(monday) == {
        "watched": [0, 1, 0, 0, 0, 1, 0, 0, 0, 0],
        "plays": [2, 2, 1, 1, 1, 2, 2, 2, 2, 2] + [0] * 10,
        "again": [0] * 5 + [1] * 5 + [0] * 10,
    }
    assert _video_columns(tuesday) == {
        "watched": [0, 0, 0, 0, 0, 1, 0, 0, 0, 0],
        "plays": [0] * 10 + [2] * 10,
        "again": [0] * 10 + [1] * 10,
    }
    assert _video_columns(every) == {
        "watched": [0, 2, 0, 0, 0, 2, 0, 0, 0, 0],
        "plays": [2, 2, 1, 1, 1, 2, 2, 2, 2, 2] + [2] * 8 + [3, 3],
        "again": [0] * 5 + [1] * 5 + [1] * 10,
    }

    # The videos table, for the chart's readers: two rows per played video, a column per
    # twentieth of it.
    videos = monday.tables["videos"]
    assert videos.headers[:5] == ["module", "lesson", "figure", "0-5%", "5-10%"]
    assert len(videos.headers) == 23 and videos.headers[-1] == "95-100%"
    assert videos.rows == [
        ["Week 1", "Video lesson 2", "plays", *_video_columns(monday)["plays"]],
        ["Week 1", "Video lesson 2", "students re-watching", *_video_columns(monday)["again"]],
    ]
    assert "(group Monday)" in videos.caption and "since the course began" in videos.caption
    assert [row[3:] for row in every.tables["videos"].rows] == [
        _video_columns(every)["plays"],
        _video_columns(every)["again"],
    ]

    # Wednesday: nobody opened the video; the funnel says 0 started, the videos table is empty.
    [row] = [row for row in wednesday.tables["funnel"].rows if row[2] == "video"]
    assert row[3:6] == [0, 0, None] and row[9:] == ["", ""]
    assert wednesday.tables["videos"].rows == [] and wednesday.video_lessons == 1

    # A period long before anyone watched: no days with activity, the same video coverage.
    assert all(row[1:] == [0, 0, 0, 0, 0] for row in long_ago.tables["days"].rows)
    assert long_ago.tables["videos"].rows == tuesday.tables["videos"].rows


async def test_refreshing_rewrites_a_groups_video_coverage_when_its_students_move(
    video_groups, sessions
):
    """Jo moves from Tuesday to Wednesday: after the next refresh Wednesday has Jo's plays
    and Tuesday, now without students, has no rows at all (a group nobody is in is no longer
    a group of the course)."""
    course, video, now = video_groups["course"], video_groups["video"], video_groups["now"]
    async with sessions() as session:
        jo = await session.scalar(
            select(Account)
            .join(Enrollment, Enrollment.account_id == Account.id)
            .where(Enrollment.course_id == course.id, Enrollment.group_name == "Tuesday")
        )
        await groups.set_group(session, course, jo.username, "Wednesday")
        await session.commit()
        await rollups.refresh_course(session, course.id, now)
        await session.commit()
        wednesday = await course_analytics.course_analytics(
            session, course, period_from(None, None, now.date()), None, group="Wednesday"
        )
        left = await session.scalar(
            select(func.count())
            .select_from(GroupLessonRollup)
            .where(
                GroupLessonRollup.course_id == course.id, GroupLessonRollup.group_name == "Tuesday"
            )
        )
        row = await session.get_one(GroupLessonRollup, (course.id, "Wednesday", video.id))
    assert _video_columns(wednesday)["plays"] == [0] * 10 + [2] * 10
    assert (row.started, row.video_rewatched) == (1, [0] * 10 + [1] * 10)
    assert left == 0 and not wednesday.videos_pending

    # Group rows written before groups' videos were counted (before migration 0035) have no
    # coverage: the page calls it pending (and asks for a refresh), not "nobody watched".
    period = period_from(None, None, now.date())
    async with sessions() as session:
        await session.execute(
            update(GroupLessonRollup)
            .where(GroupLessonRollup.course_id == course.id)
            .values(video_buckets=None, video_views=None, video_rewatched=None)
        )
        await session.commit()
        before = await course_analytics.course_analytics(
            session, course, period, None, group="Wednesday"
        )
        whole = await course_analytics.course_analytics(session, course, period, None)
        await rollups.refresh_course(session, course.id, now)
        await session.commit()
        after = await course_analytics.course_analytics(
            session, course, period, None, group="Wednesday"
        )
    assert before.videos_pending and before.tables["videos"].rows == []
    assert not whole.videos_pending
    assert (
        not after.videos_pending and after.tables["videos"].rows == wednesday.tables["videos"].rows
    )


async def test_the_instructor_reads_a_groups_video_coverage_on_the_page_in_csv_and_json(
    video_groups, platform, signed_in, make_account
):
    course = video_groups["course"]
    teacher = open_session(platform, signed_in, video_groups["teacher"])
    page = f"/teach/courses/{course.id}/analytics"

    tuesday = teacher.get(f"{page}?group=Tuesday")
    assert tuesday.status_code == 200
    assert 'id="figure_videos"' in tuesday.text and 'id="no_video_plays"' not in tuesday.text
    assert "plays and students re-watching each twentieth (group Tuesday)" in tuesday.text
    assert 'id="csv_videos"' in tuesday.text and 'id="period_note"' in tuesday.text

    csv = teacher.get(f"{page}/videos.csv?group=Tuesday")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    rows = list(csv_module.reader(io.StringIO(csv.text)))
    assert rows[0][:4] == ["module", "lesson", "figure", "0-5%"] and len(rows[0]) == 23
    assert rows[1:] == [
        ["Week 1", "Video lesson 2", "plays", *["0"] * 10, *["2"] * 10],
        ["Week 1", "Video lesson 2", "students re-watching", *["0"] * 10, *["1"] * 10],
    ]

    # A group that watched nothing: the page says so, the CSV is just its header.
    wednesday = teacher.get(f"{page}?group=Wednesday")
    assert wednesday.status_code == 200
    assert 'id="no_video_plays"' in wednesday.text and 'id="figure_videos"' not in wednesday.text
    assert "No student of group Wednesday has played this video yet." in wednesday.text
    empty = teacher.get(f"{page}/videos.csv?group=Wednesday")
    assert empty.status_code == 200 and empty.text.splitlines() == [",".join(rows[0])]

    figures = teacher.get(f"/api/teach/courses/{course.id}/analytics?group=Monday").json()
    plays = figures["tables"]["videos"]["rows"][0]
    assert plays["figure"] == "plays" and plays["0-5%"] == 2 and plays["45-50%"] == 2
    assert [plays[f"{n * 5}-{n * 5 + 5}%"] for n in range(20)] == [2, 2, 1, 1, 1] + [2] * 5 + [
        0
    ] * 10
    every = teacher.get(page)
    assert 'id="figure_videos"' in every.text and 'id="group_note"' not in every.text

    # Only the course's staff, and only the course's groups.
    student = open_session(platform, signed_in, make_account())
    assert student.get(f"{page}/videos.csv?group=Monday").status_code in (403, 404)
    unknown = teacher.get(f"{page}/videos.csv?group=Thursday")
    assert unknown.status_code == 400 and "no such group" in unknown.text


def test_migration_0035_is_reversible_and_matches_the_models() -> None:
    """Going back before 0035 drops the groups' video columns and coming back restores
    them, as the models have them."""
    url = create_database("coursehub_analytics_videos_migration")

    def group_columns() -> set[str]:
        engine = create_engine(sqlalchemy_url(url))
        with engine.connect() as connection:
            names = connection.scalars(
                text(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'analytics_group_lessons'"
                )
            )
            found = set(names)
        engine.dispose()
        return found

    videos = {"video_buckets", "video_views", "video_rewatched"}
    try:
        config = alembic_config(sqlalchemy_url(url))
        command.upgrade(config, "0035")
        assert videos <= group_columns()
        command.downgrade(config, "0034")
        assert not videos & group_columns() and "started" in group_columns()
        command.upgrade(config, "head")
        assert videos <= group_columns()
        command.check(config)
    finally:
        drop_database(url)
