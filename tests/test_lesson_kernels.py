"""Lesson kernels fenced off: the lesson server answers nothing without its token (from its own
port, an anonymous WebSocket and POST are refused); a student who reloads lessons holds at most
their share of kernels, reusing the one of a lesson they already have, and is told politely
when their share is used; signed-out visitors open preview lessons within the same rules; a
path that climbs out of Voilà's template assets is not found; and each lesson shows its code
cells or not, as its author set it."""

from __future__ import annotations

import re
import secrets

import httpx
import pytest

from coursehub.hub.constants import Role
from coursehub.services.models import Lesson, LessonKind
from tests.player_data import LessonSpec, build_course, enroll, notebook

KERNEL = re.compile(r'"kernelId": "([0-9a-f-]{36})"')
# An anonymous WebSocket's opening request, as a browser or a script sends it.
WEBSOCKET_HANDSHAKE = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


def lesson_notebook(words: str) -> dict:
    return notebook(f"print({words!r})", markdown=f"# {words}")


@pytest.fixture(scope="module")
def lesson_server(platform) -> None:
    response = httpx.get(f"{platform.service_url}/voila/voila/static/voila.js", timeout=60)
    assert response.status_code == 200, response.text[:300]


def kernel_of(page: httpx.Response) -> str:
    assert page.status_code == 200, page.text[:500]
    found = KERNEL.search(page.text)
    assert found, page.text[:500]
    return found.group(1)


def close_kernel(platform, kernel_id: str) -> None:
    """What the player's beacon does when the student leaves the lesson."""
    httpx.post(f"{platform.service_url}/voila/voila/api/shutdown/{kernel_id}", timeout=30)


def alive(platform, kernel_id: str) -> bool:
    """Whether the kernel handed to a page still runs (asked as that page asks)."""
    response = httpx.get(f"{platform.service_url}/voila/api/kernels/{kernel_id}", timeout=30)
    return response.status_code == 200


# -- the lesson server's own port -----------------------------------------------------------


def test_the_lesson_server_answers_nothing_without_its_token(
    platform, lesson_server, db, make_account, signed_in
):
    """Someone on the machine who learnt a kernel id (say, from Redis) goes to the lesson
    server's port directly: its WebSockets and its shutdown refuse them, and so do its assets."""
    instructor, student = make_account(Role.INSTRUCTOR), make_account()
    course = build_course(
        db, instructor, [LessonSpec("Live", LessonKind.NOTEBOOK, notebook=lesson_notebook("hi"))]
    )
    enroll(db, student, course)
    kernel_id = kernel_of(
        signed_in(student).get(course.url(platform.service_url, "Live", "/frame"))
    )
    lesson = f"127.0.0.1:{platform.env['COURSEHUB_LESSON_PORT']}"

    for path in (f"voila/query/{kernel_id}", f"api/kernels/{kernel_id}/channels"):
        handshake = httpx.get(f"http://{lesson}/{path}", headers=WEBSOCKET_HANDSHAKE)
        assert handshake.status_code == 403, path  # not 101 Switching Protocols
    shutdown = httpx.post(f"http://{lesson}/voila/api/shutdown/{kernel_id}")
    assert shutdown.status_code == 403
    for path in (
        "voila/static/voila.js",
        "voila/templates/coursehub-lesson/static/lesson-frame.js",
        "voila/labextensions/@jupyter-widgets/jupyterlab-manager/package.json",
        "voila/api/themes/@jupyterlab/theme-light-extension/index.css",
        f"api/kernels/{kernel_id}",
        "coursehub/pools",
    ):
        response = httpx.get(f"http://{lesson}/{path}", follow_redirects=False)
        assert response.status_code == 403, path
    # The kernel lived through all of that; the course service, with the token, still reaches it.
    assert alive(platform, kernel_id)
    assert httpx.get(f"{platform.service_url}/voila/voila/static/voila.js").status_code == 200
    close_kernel(platform, kernel_id)


def test_a_path_that_climbs_out_of_the_template_assets_is_not_found(platform, lesson_server):
    asset = f"{platform.service_url}/voila/voila/templates/coursehub-lesson/static"
    assert httpx.get(f"{asset}/lesson-frame.js").status_code == 200
    for climb in ("..%2F..%2F..%2Fconf.json", "..%2Fconf.json", "..%2F..%2F..%2F..%2Fetc%2Fpasswd"):
        response = httpx.get(f"{asset}/{climb}")
        assert response.status_code == 404, climb


# -- a person's share of kernels -------------------------------------------------------------


def test_eight_loads_by_one_student_hold_at_most_their_share_of_kernels(
    platform, lesson_server, db, make_account, signed_in
):
    instructor, student = make_account(Role.INSTRUCTOR), make_account()
    titles = ["First", "Second", "Third"]
    course = build_course(
        db,
        instructor,
        [
            LessonSpec(title, LessonKind.NOTEBOOK, notebook=lesson_notebook(title))
            for title in titles
        ],
    )
    enroll(db, student, course)
    http = signed_in(student)

    # Reloading one lesson four times, then another four times: the same kernel each time.
    first = {
        kernel_of(http.get(course.url(platform.service_url, "First", "/frame"))) for _ in range(4)
    }
    second = {
        kernel_of(http.get(course.url(platform.service_url, "Second", "/frame"))) for _ in range(4)
    }
    assert len(first) == 1 and len(second) == 1 and first != second
    held = first | second
    assert all(alive(platform, kernel_id) for kernel_id in held)

    # A third lesson is past the share of two: refused with a sentence, no kernel taken.
    refused = http.get(course.url(platform.service_url, "Third", "/frame"))
    assert refused.status_code == 429
    assert "You already have 2 notebook lessons running" in refused.text
    assert not KERNEL.search(refused.text)

    # Leaving a lesson (the player's beacon) gives its place back.
    close_kernel(platform, first.pop())
    third = kernel_of(http.get(course.url(platform.service_url, "Third", "/frame")))
    assert third not in held
    # Another student is not affected by this one's share.
    other = make_account()
    enroll(db, other, course)
    theirs = kernel_of(signed_in(other).get(course.url(platform.service_url, "First", "/frame")))
    assert theirs not in held | {third}
    for kernel_id in (*second, third, theirs):
        close_kernel(platform, kernel_id)


# -- signed-out visitors ---------------------------------------------------------------------


def test_a_signed_out_visitor_opens_a_preview_lesson_but_not_the_others(
    platform, lesson_server, db, make_account, client
):
    instructor = make_account(Role.INSTRUCTOR)
    course = build_course(
        db,
        instructor,
        [
            LessonSpec(
                "Taster", LessonKind.NOTEBOOK, preview=True, notebook=lesson_notebook("free")
            ),
            LessonSpec("Reading taster", preview=True, text="Anyone may read this."),
            LessonSpec("Members", LessonKind.NOTEBOOK, notebook=lesson_notebook("paid")),
        ],
    )
    player = client.get(course.url(platform.service_url, "Taster"))
    assert player.status_code == 200 and "/hub/login" not in str(player.url)
    assert '<h1 class="h3 mb-1" id="lesson_title">Taster</h1>' in player.text
    assert "sign in and enroll" in player.text
    assert 'id="mark_complete"' not in player.text and 'id="note_form"' not in player.text
    reading = client.get(course.url(platform.service_url, "Reading taster"))
    assert reading.status_code == 200 and "Anyone may read this." in reading.text

    frame = client.get(course.url(platform.service_url, "Taster", "/frame"), timeout=120)
    kernel_id = kernel_of(frame)
    assert "free" in frame.text
    for url in (
        course.url(platform.service_url, "Members"),
        course.url(platform.service_url, "Members", "/frame"),
    ):
        assert "/hub/login" in str(client.get(url).url), url
    close_kernel(platform, kernel_id)


def test_signed_out_visitors_share_one_addresss_share_of_kernels(
    platform, lesson_server, db, make_account, client
):
    """Signed-out visitors are counted by their address: from one address, two preview
    lessons run at once, a third waits until one is closed."""
    titles = ["Preview one", "Preview two", "Preview three"]
    course = build_course(
        db,
        make_account(Role.INSTRUCTOR),
        [
            LessonSpec(title, LessonKind.NOTEBOOK, preview=True, notebook=lesson_notebook(title))
            for title in titles
        ],
    )
    frames = [course.url(platform.service_url, title, "/frame") for title in titles]
    first, second = kernel_of(client.get(frames[0], timeout=120)), kernel_of(client.get(frames[1]))
    assert kernel_of(client.get(frames[0])) == first  # reopened: the same kernel
    refused = client.get(frames[2])
    assert refused.status_code == 429 and "notebook lessons running" in refused.text
    # An address of their own choosing does not buy them another share.
    for forged in ({"X-Real-Ip": "203.0.113.9"}, {"X-Forwarded-For": "198.51.100.7"}):
        refused = client.get(frames[2], headers=forged)
        assert refused.status_code == 429, forged
    close_kernel(platform, first)
    third = kernel_of(client.get(frames[2], timeout=120))
    for kernel_id in (second, third):
        close_kernel(platform, kernel_id)


# -- code cells shown or not -----------------------------------------------------------------


def test_a_lesson_shows_its_code_cells_only_when_its_author_says_so(
    platform, lesson_server, db, make_account, signed_in
):
    instructor, student = make_account(Role.INSTRUCTOR), make_account()
    marker = f"shown_{secrets.token_hex(3)}"
    source = f"{marker} = 6 * 7\nprint('the answer is', {marker})"
    course = build_course(
        db,
        instructor,
        [LessonSpec("Worked example", LessonKind.NOTEBOOK, notebook=notebook(source))],
    )
    enroll(db, student, course)
    http = signed_in(student)
    frame_url = course.url(platform.service_url, "Worked example", "/frame")

    hidden = http.get(frame_url, timeout=120)
    kernel_id = kernel_of(hidden)
    assert "the answer is 42" in hidden.text and marker not in hidden.text
    close_kernel(platform, kernel_id)

    with db() as session:
        session.get(Lesson, course.lessons["Worked example"]).show_code = True
        session.commit()
    shown = http.get(frame_url, timeout=120)
    close_kernel(platform, kernel_of(shown))
    assert "the answer is 42" in shown.text
    assert marker in shown.text  # the code, read-only, above its output
    assert "jp-InputArea-editor" in shown.text and "contenteditable" not in shown.text
