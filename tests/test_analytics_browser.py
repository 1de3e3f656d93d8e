"""An instructor opens their course's analytics in Chromium after an assignment has been
graded by the platform's own worker: the charts are drawn (SVG, no script from anywhere),
each beside its table, and the test-cell insight says how many attempts pass the
autograded test and what failed; the student who failed is listed at risk with a Message
button, and the student's own progress page shows their grade."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from coursehub.services.models import Enrollment
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.grading_data import essay_answer
from tests.grading_room import IPYNB, make_room, wait_until_graded
from tests.player_data import sign_in

pytestmark = pytest.mark.browser


def wrong_answer(student_notebook: dict) -> bytes:
    """The student version with ``add`` subtracting: its autograded test fails."""
    notebook = json.loads(essay_answer(student_notebook))
    for cell in notebook["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "answer":
            cell["source"] = "def add(a, b):\n    return a - b\n"
    return json.dumps(notebook).encode()


def test_an_instructor_sees_charts_and_the_test_cell_insight_after_grading(
    platform, browser, signed_in, make_account, db, database_url
):
    room = make_room(platform, signed_in, make_account, db, database_url, students=2)
    room.new_assignment()
    right, wrong = room.students
    first = room.submit(right)
    notebook = wrong.get(f"{room.one}/notebook").json()
    sent = wrong.call(
        "POST", f"{room.one}/submissions", content=wrong_answer(notebook), headers=IPYNB
    )
    assert sent.status_code == 201, sent.text
    wait_until_graded(db, [first, sent.json()["id"]])

    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(20_000)
    outside: list[str] = []
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith(platform.url) else None,
    )
    sign_in(page, platform, room.teacher.account.email)
    page.goto(f"{platform.service_url}/teach/courses/{room.course.id}")
    page.locator("#tool_analytics").click()
    expect(page.locator("h1")).to_contain_text("Analytics of")
    # The first visit asks the job queue for the figures; the worker computes them.
    for _ in range(60):
        if page.locator("#test_cell_insight").count():
            break
        page.wait_for_timeout(2000)
        page.reload()
    insight = page.locator('#test_cell_insight [data-test-cell="test_add"]')
    expect(insight).to_contain_text("50.0 % of 2 graded attempts pass")
    expect(insight).to_contain_text("1 of 2 students passed")
    expect(insight).to_contain_text("AssertionError")
    charts = page.locator("svg.analytics-chart")
    assert charts.count() >= 4
    expect(charts.first).to_be_visible()
    expect(page.locator("#figure_funnel svg title").first).to_contain_text("started")
    page.locator("#figure_test_cells summary").click()
    expect(page.locator("#table_test_cells")).to_contain_text("test_add")
    expect(page.locator("#summary_students")).to_have_text("2")
    # The student whose attempt scored under half is at risk, one click from a message.
    at_risk = page.locator(f'#at_risk_table tr[data-username="{wrong.account.username}"]')
    expect(at_risk).to_contain_text("Mean grade under 50 %")
    at_risk.locator("[data-message-to]").click()
    expect(page.locator("#at_risk_status")).to_contain_text("Message sent")
    csv = page.request.get(
        f"{platform.service_url}/teach/courses/{room.course.id}/analytics/test_cells.csv"
    )
    assert csv.ok and "test_add" in csv.text()
    refused = page.request.get(
        f"{platform.service_url}/teach/courses/{room.course.id}/analytics?from=2026-05-01&to=2026-04-01"
    )
    assert refused.status == 400 and "after it ends" in refused.text()
    figures = page.request.get(
        f"{platform.service_url}/api/teach/courses/{room.course.id}/analytics"
    ).json()
    (cell,) = figures["tables"]["test_cells"]["rows"]
    assert (cell["test cell"], cell["pass %"], cell["students passed"]) == ("test_add", 50.0, 1)
    assert figures["summary"]["students"] == 2
    assert outside == []

    # The administrator's platform-wide figures, each table a CSV.
    admin = browser.new_context().new_page()
    sign_in(admin, platform, ADMIN_EMAIL, ADMIN_PASSWORD)
    admin.locator("#nav_platform_analytics").click()
    expect(admin.locator("h1")).to_have_text("Platform analytics")
    expect(admin.locator("#table_grading_queue")).to_contain_text("attempts waiting")
    expect(admin.locator("#table_running")).to_contain_text("lesson kernels")
    expect(admin.locator("#figure_growth svg.analytics-chart")).to_be_visible()
    queue_csv = admin.request.get(f"{platform.service_url}/admin/analytics/grading_queue.csv")
    assert queue_csv.ok and queue_csv.text().startswith("measure,value")

    student_page = browser.new_context().new_page()
    sign_in(student_page, platform, wrong.account.email)
    student_page.goto(f"{platform.service_url}/progress")
    section = student_page.locator(f'[data-course="{room.course.slug}"]')
    expect(section).to_contain_text(room.course.title)
    expect(section.locator("#figure_grades_" + str(room.course.id) + " svg")).to_be_visible()
    # Someone else's course analytics: refused.
    other = student_page.request.get(
        f"{platform.service_url}/teach/courses/{room.course.id}/analytics"
    )
    assert other.status == 403
    with db() as session:
        assert session.query(Enrollment).filter_by(course_id=room.course.id).count() == 2
    assert re.search(r"Every required lesson|Next:", section.inner_text())
