"""The public catalog and course pages: visitors and students find published courses by any
word in them (even one only a lesson notebook contains), filter by category, sort and page,
and never see a draft; a course page shows its syllabus, price and preview lessons."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from coursehub.hub.constants import Role
from coursehub.services import seed
from coursehub.services.models import (
    Account,
    CourseStatus,
    Lesson,
    LessonKind,
    LessonVersion,
    Module,
)
from coursehub.services.settings import sqlalchemy_url
from tests.course_builder import (
    LessonPlan,
    complete_lessons,
    enroll,
    make_category,
    make_course,
    run_async,
    unique_word,
)


def search(client, platform, **params):
    response = client.get(f"{platform.service_url}/api/courses", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def slugs(results: dict) -> list[str]:
    return [item["slug"] for item in results["items"]]


def test_a_visitor_finds_a_course_by_a_word_only_its_lesson_notebook_contains(
    platform, client, make_account, database_url
):
    word = unique_word("nebula")
    instructor = make_account(Role.INSTRUCTOR)
    course = make_course(
        database_url,
        instructor,
        title="Telescopes for beginners",
        summary="Point, focus, observe.",
        modules={"Optics": [LessonPlan("Lenses", markdown=f"A {word} is a cloud of gas.")]},
    )

    found = search(client, platform, q=word)
    assert slugs(found) == [course.slug]
    assert found["total"] == 1 and found["sort"] == "relevance"
    [item] = found["items"]
    assert item["title"] == "Telescopes for beginners"
    assert item["instructor"] == instructor.name
    assert item["price"] == "Free" and item["students"] == 0
    assert item["url"] == f"/services/coursehub/courses/{course.slug}"

    page = client.get(f"{platform.service_url}/courses", params={"q": word})
    assert page.status_code == 200 and page.url.path == "/services/coursehub/courses"
    assert "Telescopes for beginners" in page.text
    assert 'id="login"' in page.text  # a visitor: the navigation offers to sign in


def test_drafts_are_invisible_in_search_and_by_address_except_to_their_staff(
    platform, client, make_account, signed_in, database_url
):
    word = unique_word("secret")
    instructor, student, admin = (
        make_account(Role.INSTRUCTOR),
        make_account(Role.STUDENT),
        make_account(Role.ADMIN),
    )
    draft = make_course(
        database_url, instructor, title=f"Unreleased {word}", status=CourseStatus.DRAFT
    )

    assert search(client, platform, q=word)["total"] == 0
    as_student = signed_in(student)
    assert search(as_student, platform, q=word)["total"] == 0

    for http in (client, as_student):
        page = http.get(f"{platform.service_url}/courses/{draft.slug}")
        assert page.status_code == 404 and "Unreleased" not in page.text
        api = http.get(f"{platform.service_url}/api/courses/{draft.slug}")
        assert api.status_code == 404 and "no such course" in api.json()["error"]

    for staff in (instructor, admin):
        page = signed_in(staff).get(f"{platform.service_url}/courses/{draft.slug}")
        assert page.status_code == 200
        assert "This course is a draft" in page.text
        assert "every lesson is open to you without enrolling" in page.text


def test_a_category_narrows_the_catalog(platform, client, make_account, db, database_url):
    word = unique_word("orbit")
    astronomy = make_category(db, f"Astronomy {word}")
    geology = make_category(db, f"Geology {word}")
    instructor = make_account(Role.INSTRUCTOR)
    stars = make_course(database_url, instructor, title=f"Stars {word}", category_id=astronomy.id)
    rocks = make_course(database_url, instructor, title=f"Rocks {word}", category_id=geology.id)

    assert sorted(slugs(search(client, platform, q=word))) == sorted([stars.slug, rocks.slug])
    only_stars = search(client, platform, q=word, category=astronomy.slug)
    assert slugs(only_stars) == [stars.slug] and only_stars["category"] == astronomy.slug
    assert only_stars["items"][0]["category"] == {"slug": astronomy.slug, "name": astronomy.name}
    assert slugs(search(client, platform, category=geology.slug)) == [rocks.slug]
    assert search(client, platform, q=word, category="no-such-category")["total"] == 0

    page = client.get(f"{platform.service_url}/courses", params={"category": astronomy.slug})
    assert f"Stars {word}" in page.text and f"Rocks {word}" not in page.text


def test_courses_sort_by_relevance_newest_title_enrollment_and_price(
    platform, client, make_account, db, database_url
):
    word = unique_word("comet")
    instructor = make_account(Role.INSTRUCTOR)
    lessons_only = {"Basics": [LessonPlan("Intro", markdown=f"We meet the {word} here.")]}
    # Made in this order, so "newest" is the reverse; the word is in only one title.
    alpha = make_course(
        database_url, instructor, title="Alpha course", price_cents=1500, modules=lessons_only
    )
    beta = make_course(database_url, instructor, title=f"Beta {word} course", price_cents=0)
    gamma = make_course(
        database_url, instructor, title="Gamma course", price_cents=900, modules=lessons_only
    )
    for _ in range(2):
        enroll(db, make_account(Role.STUDENT), gamma)
    enroll(db, make_account(Role.STUDENT), beta)

    def order(sort: str) -> list[str]:
        return slugs(search(client, platform, q=word, sort=sort))

    assert order("relevance")[0] == beta.slug  # the word in the title counts most
    assert order("newest") == [gamma.slug, beta.slug, alpha.slug]
    assert order("title") == [alpha.slug, beta.slug, gamma.slug]
    assert order("enrolled") == [gamma.slug, beta.slug, alpha.slug]
    assert order("price") == [beta.slug, gamma.slug, alpha.slug]
    counts = {item["slug"]: item["students"] for item in search(client, platform, q=word)["items"]}
    assert counts == {alpha.slug: 0, beta.slug: 1, gamma.slug: 2}


def test_results_come_in_pages(platform, client, make_account, database_url):
    word = unique_word("meteor")
    instructor = make_account(Role.INSTRUCTOR)
    made = [
        make_course(database_url, instructor, title=f"Meteor course {n} {word}", modules={})
        for n in range(5)
    ]
    newest_first = [course.slug for course in reversed(made)]

    first = search(client, platform, q=word, sort="newest", per_page=2)
    assert slugs(first) == newest_first[:2]
    assert (first["total"], first["page"], first["pages"]) == (5, 1, 3)
    assert first["has_next"] and not first["has_previous"]
    last = search(client, platform, q=word, sort="newest", per_page=2, page=3)
    assert slugs(last) == newest_first[4:]
    assert last["has_previous"] and not last["has_next"]
    beyond = search(client, platform, q=word, sort="newest", per_page=2, page=4)
    assert beyond["items"] == [] and beyond["total"] == 5

    page = client.get(
        f"{platform.service_url}/courses", params={"q": word, "sort": "newest", "per_page": 2}
    )
    assert "Showing 1\u20132 of 5 courses" in page.text
    assert 'aria-label="Catalog pages"' in page.text and "page=3" in page.text


@pytest.mark.parametrize(
    ("params", "complaint"),
    [
        ({"per_page": "0"}, "per_page must be a whole number from 1 to 50"),
        ({"per_page": "500"}, "per_page must be a whole number from 1 to 50"),
        ({"page": "0"}, "page must be a whole number from 1 to 1000"),
        ({"page": "two"}, "page must be a whole number"),
        ({"sort": "popularity"}, "sort must be one of relevance, newest, title, enrolled, price"),
        ({"category": "Bad Slug!"}, "category must be a category's short name"),
        ({"q": "x" * 201}, "A search can be at most 200 characters"),
    ],
    ids=["per-page-zero", "per-page-huge", "page-zero", "page-word", "sort", "category", "q"],
)
def test_a_student_asking_the_catalog_wrongly_is_told_what_to_ask(
    platform, make_account, signed_in, params, complaint
):
    http = signed_in(make_account(Role.STUDENT))
    response = http.get(f"{platform.service_url}/api/courses", params=params)
    assert response.status_code == 400
    assert complaint in response.json()["error"]
    page = http.get(f"{platform.service_url}/courses", params=params)
    assert page.status_code == 400 and str(escape(complaint)) in page.text


def test_signed_in_people_see_their_navigation_on_the_catalog(platform, make_account, signed_in):
    student = make_account(Role.STUDENT)
    page = signed_in(student).get(f"{platform.service_url}/courses")
    assert page.status_code == 200
    assert re.search(rf'id="signed_in_as"[^>]*>{re.escape(student.username)}<', page.text)
    assert "/services/coursehub/dashboard" in page.text  # "My learning" in the navigation


def test_a_course_page_shows_the_syllabus_price_and_preview_lessons(
    platform, client, make_account, db, database_url
):
    instructor = make_account(Role.INSTRUCTOR)
    category = make_category(db, f"Physics {unique_word('p')}")
    course = make_course(
        database_url,
        instructor,
        title="Light and colour",
        summary="Why the sky is blue.",
        description="Learn **optics**.\n\n<script>alert('x')</script>",
        category_id=category.id,
        modules={
            "Waves": [
                LessonPlan("What light is", preview=True),
                LessonPlan("Refraction"),
            ],
            "Colour": [
                LessonPlan("Check yourself", kind=LessonKind.QUIZ, required=False),
                LessonPlan("Rainbows", publish=False),
            ],
        },
    )
    preview, refraction, quiz, rainbows = course.lesson_ids

    page = client.get(f"{platform.service_url}/courses/{course.slug}")
    assert page.status_code == 200
    text = page.text
    assert "<strong>optics</strong>" in text and "<script>alert" not in text
    assert instructor.name in text and category.name in text
    assert 'id="course_price">Free<' in text
    assert text.index("Waves") < text.index("What light is") < text.index("Refraction")
    assert text.index("Refraction") < text.index("Colour") < text.index("Check yourself")
    assert f'href="/services/coursehub/learn/{course.slug}/{preview}"' in text
    assert f"/learn/{course.slug}/{refraction}" not in text  # only previews, for visitors
    assert "Preview" in text and "Quiz" in text and "(optional)" in text
    assert "Coming soon" in text  # a notebook lesson whose notebook is not published yet
    assert 'id="sign_in_to_enroll"' in text

    data = client.get(f"{platform.service_url}/api/courses/{course.slug}").json()
    assert [m["title"] for m in data["syllabus"]] == ["Waves", "Colour"]
    lessons = [lesson for module in data["syllabus"] for lesson in module["lessons"]]
    assert [(lesson["id"], lesson["kind"]) for lesson in lessons] == [
        (preview, "NOTEBOOK"),
        (refraction, "NOTEBOOK"),
        (quiz, "QUIZ"),
        (rainbows, "NOTEBOOK"),
    ]
    assert [lesson["url"] is not None for lesson in lessons] == [True, False, False, False]
    assert data["viewer"] == {
        "signed_in": False,
        "enrolled": False,
        "staff": False,
        "is_instructor": False,
        "can_enroll": False,
        "enroll_refusal": None,
        "start_url": f"/services/coursehub/learn/{course.slug}/{preview}",
    }


def test_enrolled_students_and_the_instructor_see_every_lesson_linked(
    platform, make_account, signed_in, db, database_url
):
    instructor, student = make_account(Role.INSTRUCTOR), make_account(Role.STUDENT)
    course = make_course(database_url, instructor, title="Linked lessons")
    enroll(db, student, course)
    complete_lessons(db, student, course.lesson_ids[:1])

    for person in (student, instructor):
        data = signed_in(person).get(f"{platform.service_url}/api/courses/{course.slug}").json()
        urls = [lesson["url"] for module in data["syllabus"] for lesson in module["lessons"]]
        assert urls == [
            f"/services/coursehub/learn/{course.slug}/{lesson_id}"
            for lesson_id in course.lesson_ids
        ]


async def _seed_twice(database_url: str, instructor_id: int) -> list[tuple[int, int]]:
    engine = create_async_engine(sqlalchemy_url(database_url))
    counts = []
    try:
        for _ in range(2):
            async with AsyncSession(engine, expire_on_commit=False) as session:
                instructor = await session.get_one(Account, instructor_id)
                course = await seed.seed_course(
                    session, seed.CONTENT_DIR / "python-for-data", instructor
                )
                await session.commit()
                versions = await session.scalar(
                    select(func.count())
                    .select_from(LessonVersion)
                    .join(Lesson, Lesson.id == LessonVersion.lesson_id)
                    .join(Module, Module.id == Lesson.module_id)
                    .where(Module.course_id == course.id)
                )
                counts.append((course.id, versions))
        assert counts[0][1] == 4, counts
    finally:
        await engine.dispose()
    return counts


def test_the_demo_seed_publishes_lesson_notebooks_once_and_search_finds_their_words(
    platform, client, make_account, database_url
):
    instructor = make_account(Role.INSTRUCTOR)
    first, second = run_async(_seed_twice(database_url, instructor.id))
    assert first == second  # seeding again adds nothing

    found = search(client, platform, q="zettabyte")
    assert "python-for-data" in slugs(found)
    course = client.get(f"{platform.service_url}/api/courses/python-for-data").json()
    assert [module["title"] for module in course["syllabus"]] == [
        "Getting started",
        "Working with data",
    ]
    titles = [lesson["title"] for module in course["syllabus"] for lesson in module["lessons"]]
    assert titles == [
        "Your first notebook",
        "Values and names",
        "Lists and loops",
        "Summarising data",
    ]
