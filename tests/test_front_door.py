"""The front door: a visitor who opens CourseHub's address learns what it is before signing in
(featured and newest courses with pictures, categories, a search into the catalog, sign in and
create an account), can read /about, write through /contact (a support request the
administrators see) and see /pricing when some course costs money; signed-in people go on to
their dashboard, and the hub's root sends visitors to the landing page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx
import pytest
from alembic import command
from sqlalchemy import create_engine, select, text, update

from coursehub.hub.constants import Role
from coursehub.services.migrate import alembic_config
from coursehub.services.models import Course, CoursePrice, CourseStatus, SupportTicket
from coursehub.services.settings import sqlalchemy_url
from tests.admin_helpers import site_settings
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD
from tests.course_builder import enroll, make_category, make_course, unique_word
from tests.platform import create_database, drop_database, sign_in, xsrf_from


def welcome(platform) -> str:
    return f"{platform.service_url}/welcome"


@contextmanager
def admin_client(platform) -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=True, timeout=30) as http:
        assert sign_in(http, platform.url, ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 200
        http.get(f"{platform.service_url}/courses")
        yield http


def test_a_visitor_sees_courses_with_pictures_categories_and_a_way_in(
    platform, client, make_account, db, database_url
):
    word = unique_word("comet")
    category = make_category(db, f"Astronomy {word}")
    instructor = make_account(Role.INSTRUCTOR)
    stars = make_course(
        database_url,
        instructor,
        title=f"Reading the stars {word}",
        summary="Constellations by eye.",
        category_id=category.id,
    )
    popular = make_course(database_url, instructor, title=f"Popular orbits {word}")
    for _ in range(3):
        enroll(db, make_account(), popular)
    draft = make_course(
        database_url, instructor, title=f"Unfinished {word}", status=CourseStatus.DRAFT
    )

    page = client.get(welcome(platform))
    assert page.status_code == 200
    html = page.text
    assert stars.title in html and popular.title in html
    assert draft.title not in html
    # A course nobody follows yet is new, not popular.
    popular_section = html.split('id="featured_courses"')[1].split("</section>")[0]
    newest_section = html.split('id="newest_courses"')[1].split("</section>")[0]
    assert stars.title not in popular_section and stars.title in newest_section
    # Every card has a picture with its size given (no jump when it arrives).
    for course in (stars, popular):
        picture = f'src="/services/coursehub/courses/{course.slug}/picture.svg"'
        assert picture in html
    assert html.count('width="640" height="360"') >= 2
    # Categories lead into the catalog, filtered.
    assert f'href="/services/coursehub/courses?category={category.slug}"' in html
    assert 'action="/services/coursehub/courses"' in html and 'name="q"' in html
    # What CourseHub is, and the ways in.
    for words in ("Notebooks as lessons", "Autograded assignments", "Certificates"):
        assert words in html
    assert 'id="hero_sign_in" href="/hub/login"' in html
    assert 'id="hero_register" href="/services/coursehub/register"' in html

    # A course without an uploaded picture gets one made from its initials and category.
    svg = client.get(f"{platform.service_url}/courses/{stars.slug}/picture.svg")
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert "public" in svg.headers["cache-control"] and "max-age" in svg.headers["cache-control"]
    assert ">RS<" in svg.text  # Reading the Stars
    assert "<script" not in svg.text
    # A draft's picture is as invisible as the draft.
    assert client.get(f"{platform.service_url}/courses/{draft.slug}/picture.svg").status_code == 404

    # The search box goes to the catalog, which finds the course.
    found = client.get(f"{platform.service_url}/courses", params={"q": f"stars {word}"})
    assert found.status_code == 200 and stars.title in found.text
    # The catalog's and the course page's cards show the same pictures.
    assert f"/courses/{stars.slug}/picture.svg" in found.text
    course_page = client.get(f"{platform.service_url}/courses/{stars.slug}")
    assert f"/courses/{stars.slug}/picture.svg" in course_page.text

    about = client.get(f"{platform.service_url}/about")
    assert about.status_code == 200 and "About CourseHub" in about.text


def test_closed_registration_hides_the_register_button(platform, client):
    with admin_client(platform) as admin:
        with site_settings(admin, platform.service_url, registration="closed") as saved:
            assert saved.status_code == 200, saved.text[:300]
            for path in ("/welcome", "/about"):
                page = client.get(f"{platform.service_url}{path}")
                assert page.status_code == 200
                assert "hero_register" not in page.text
                assert "/register" not in page.text
                assert 'id="hero_sign_in"' in page.text
        assert "hero_register" in client.get(welcome(platform)).text


def test_pricing_lists_paid_courses_only_and_is_absent_with_none(
    platform, client, make_account, db, database_url
):
    # Paid courses other tests of this platform published are set aside for this test.
    with db() as session:
        others = list(
            session.scalars(
                select(Course.id).where(
                    Course.status == CourseStatus.PUBLISHED, Course.price_cents > 0
                )
            )
        )
        session.execute(
            update(Course).where(Course.id.in_(others)).values(status=CourseStatus.ARCHIVED)
        )
        session.commit()
    try:
        word = unique_word("ledger")
        instructor = make_account(Role.INSTRUCTOR)
        free = make_course(database_url, instructor, title=f"Free ledger {word}")
        assert client.get(f"{platform.service_url}/pricing").status_code == 404
        assert 'id="pricing_link"' not in client.get(welcome(platform)).text

        paid = make_course(database_url, instructor, title=f"Paid ledger {word}", price_cents=4900)
        draft = make_course(
            database_url,
            instructor,
            title=f"Paid draft {word}",
            price_cents=9900,
            status=CourseStatus.DRAFT,
        )
        with db() as session:
            session.add(CoursePrice(course_id=paid.id, currency="eur", amount_cents=4500))
            session.commit()

        pricing = client.get(f"{platform.service_url}/pricing")
        assert pricing.status_code == 200
        assert paid.title in pricing.text
        assert free.title not in pricing.text and draft.title not in pricing.text
        row = re.search(rf'data-slug="{paid.slug}".*?</tr>', pricing.text, re.S)
        assert row is not None
        assert "$49.00" in row.group(0) and "€45.00" in row.group(0)
        assert 'id="pricing_link"' in client.get(welcome(platform)).text
    finally:
        with db() as session:
            session.execute(
                update(Course).where(Course.id.in_(others)).values(status=CourseStatus.PUBLISHED)
            )
            session.commit()


def tickets_about(db, subject: str) -> list[SupportTicket]:
    with db() as session:
        return list(session.scalars(select(SupportTicket).where(SupportTicket.subject == subject)))


def test_a_visitor_writes_through_the_contact_form_and_administrators_see_it(platform, db):
    subject = f"Do you teach astronomy? {unique_word('q')}"
    url = f"{platform.service_url}/contact"
    with httpx.Client(timeout=30) as visitor:
        form = visitor.get(url)
        assert form.status_code == 200 and 'id="contact_form"' in form.text
        xsrf = xsrf_from(form)
        # Without the form's token nothing is filed.
        forged = visitor.post(url, data={"email": "ada@example.org", "subject": subject})
        assert forged.status_code == 403
        # A wrong address is named, and what was typed is kept on the page.
        wrong = visitor.post(
            url,
            data={"_xsrf": xsrf, "email": "not an address", "subject": subject, "message": "Hi"},
        )
        assert wrong.status_code == 400
        assert 'id="email_error"' in wrong.text and subject in wrong.text
        assert tickets_about(db, subject) == []
        # A program filling in the hidden field is thanked, and nothing is kept.
        robot = visitor.post(
            url,
            data={
                "_xsrf": xsrf,
                "email": "bot@example.org",
                "subject": subject,
                "message": "Buy now",
                "website": "http://spam.example",
            },
        )
        assert robot.status_code == 303 and tickets_about(db, subject) == []

        sent = visitor.post(
            url,
            data={
                "_xsrf": xsrf,
                "email": "Ada@Example.org",
                "subject": subject,
                "message": "Is there a course on telescopes?",
                "website": "",
            },
        )
        assert sent.status_code == 303
        assert sent.headers["location"].endswith("/contact?sent=1")
        assert 'id="contact_sent"' in visitor.get(url, params={"sent": "1"}).text
    [ticket] = tickets_about(db, subject)
    assert ticket.account_id is None and ticket.contact_email == "ada@example.org"
    assert ticket.status == "open"

    with admin_client(platform) as admin:
        queue = admin.get(f"{platform.service_url}/admin/support")
        assert queue.status_code == 200
        assert subject in queue.text and "ada@example.org" in queue.text
        opened = admin.get(f"{platform.service_url}/support/tickets/{ticket.id}")
        assert 'id="visitor_email"' in opened.text and "telescopes" in opened.text

    # One address cannot flood the queue: after a few requests in an hour it is told to wait.
    with httpx.Client(timeout=30) as flood:
        xsrf = xsrf_from(flood.get(url))
        answers = [
            flood.post(
                url,
                data={
                    "_xsrf": xsrf,
                    "email": "flood@example.org",
                    "subject": f"{subject} flood",
                    "message": "again",
                },
            )
            for _ in range(6)
        ]
    limited = answers[-1]
    assert limited.status_code == 429 and "Retry-After" in limited.headers
    assert "Too many" in limited.text
    assert len(tickets_about(db, f"{subject} flood")) < 6


@pytest.mark.parametrize(
    "role, lands_on", [(Role.STUDENT, "/dashboard"), (Role.INSTRUCTOR, "/teach")]
)
def test_signed_in_people_go_on_to_their_own_page(
    platform, make_account, signed_in, role, lands_on
):
    http = signed_in(make_account(role))
    page = http.get(f"{platform.service_url}/welcome")
    assert page.status_code == 200
    assert urlsplit(str(page.url)).path == f"/services/coursehub{lands_on}"
    # From the hub's root too, as before the front door.
    root = http.get(f"{platform.url}/")
    assert urlsplit(str(root.url)).path == f"/services/coursehub{lands_on}"
    # Signed-in people ask through Support, where their requests are.
    contact = http.get(f"{platform.service_url}/contact")
    assert urlsplit(str(contact.url)).path == "/services/coursehub/support"


def test_the_hub_sends_visitors_to_the_landing_page_and_sign_in_still_works(platform, make_account):
    student = make_account(Role.STUDENT)
    with httpx.Client(follow_redirects=True, timeout=30) as visitor:
        for path in ("/", "/hub/", "/hub"):
            page = visitor.get(f"{platform.url}{path}")
            assert page.status_code == 200, path
            assert urlsplit(str(page.url)).path == "/services/coursehub/welcome", path
            assert 'id="hero_sign_in"' in page.text
        # Sign in from the landing page's button: the hub's form, then one's dashboard.
        login = visitor.get(f"{platform.url}/hub/login")
        assert login.status_code == 200 and 'name="password"' in login.text
        signed = visitor.post(
            f"{platform.url}/hub/login",
            data={"username": student.email, "password": PASSWORD, "_xsrf": xsrf_from(login)},
        )
        assert signed.status_code == 200
        assert urlsplit(str(signed.url)).path == "/services/coursehub/dashboard"
    # ?next= still takes a person where they were going.
    with httpx.Client(follow_redirects=True, timeout=30) as other:
        target = "/services/coursehub/notes"
        login = other.get(f"{platform.url}/hub/login", params={"next": target})
        signed = other.post(
            f"{platform.url}/hub/login?next={target}",
            data={"username": student.email, "password": PASSWORD, "_xsrf": xsrf_from(login)},
        )
        assert urlsplit(str(signed.url)).path == target


LAYOUT_SHIFT = """
window.__shift = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (!entry.hadRecentInput) window.__shift += entry.value;
  }
}).observe({type: "layout-shift", buffered: true});
"""


@pytest.mark.parametrize("width, height", [(1280, 800), (375, 740)])
def test_the_landing_page_in_chromium_is_calm_at_desktop_and_phone_widths(
    platform, browser, make_account, database_url, width, height
):
    instructor = make_account(Role.INSTRUCTOR)
    course = make_course(database_url, instructor, title=f"Calm cards {unique_word('tide')}")
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(20_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.add_init_script(LAYOUT_SHIFT)
    try:
        page.goto(f"{platform.url}/")
        page.wait_for_url("**/services/coursehub/welcome")
        card = page.locator(".course-card", has_text=course.title)
        card.wait_for()
        before = card.bounding_box()
        page.wait_for_timeout(3000)
        after = card.bounding_box()
        assert before == after
        # The picture loads lazily: below the fold on a phone, once it is scrolled to.
        picture = card.locator("img.course-picture")
        picture.scroll_into_view_if_needed()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=picture.element_handle()
        )
        shift = page.evaluate("window.__shift")
        assert shift < 0.05, shift
        assert problems == []
        # Nothing is wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.fill("#landing_q", "calm cards")
        page.click("#landing_search_submit")
        page.wait_for_url("**/services/coursehub/courses?q=*")
        assert page.locator(".course-card", has_text=course.title).count() == 1
        page.goto(f"{platform.url}/")
        page.click("#hero_sign_in")
        page.wait_for_url("**/hub/login**")
        assert page.locator("input[name=password]").count() == 1
    finally:
        context.close()


def test_migration_0039_is_reversible_and_matches_the_models() -> None:
    """Going back before 0039 drops a visitor's reply address on support requests and coming
    back restores it, as the model has it."""
    url = create_database("coursehub_contact_email_migration")

    def ticket_columns() -> set[str]:
        engine = create_engine(sqlalchemy_url(url))
        with engine.connect() as connection:
            found = set(
                connection.scalars(
                    text(
                        "SELECT column_name FROM information_schema.columns "
                        "WHERE table_name = 'support_tickets'"
                    )
                )
            )
        engine.dispose()
        return found

    try:
        config = alembic_config(sqlalchemy_url(url))
        command.upgrade(config, "0039")
        assert "contact_email" in ticket_columns()
        command.downgrade(config, "0038")
        assert "contact_email" not in ticket_columns() and "subject" in ticket_columns()
        command.upgrade(config, "head")
        assert "contact_email" in ticket_columns()
        command.check(config)
    finally:
        drop_database(url)
