"""The server extension's handlers under ``<base url>/coursehub/``.

- ``GET  api/lessons``: the notebook lessons the server's owner may publish to (what the
  course service answers; empty for students).
- ``POST api/lessons/<lesson id>/versions`` with ``{"path": "<notebook path>"}``: sends the
  saved notebook at that path to the course service as the lesson's newest version.
- ``api/notifications``, ``api/notifications/read``, ``api/notifications/stream``: the
  owner's CourseHub notifications for JupyterLab's bell (``notification_relay.py``).
- ``GET  api/assignments``: the released assignments of the owner's courses as nbgrader's
  Assignment List names them (course slug, nbgrader assignment id) with their titles and the
  dates that apply to the owner, so that JupyterLab's list shows titles and due dates.
- ``GET  api/assignment-courses``: the courses whose assignments the server's owner manages
  (``can_publish`` false and no courses for everyone else).
- ``POST api/assignment-sources`` with ``{"path", "course_slug", "title", "with_files"}``:
  sends the saved notebook at that path to the course as a new (unreleased) assignment's
  nbgrader source, with the files in its folder as the assignment's data files when asked
  (as nbgrader's generate_assignment takes the files beside the source notebook); the
  answer names the assignment's page in CourseHub.
- ``GET  open/<lesson id>``: "Open in JupyterLab" lands here (the course service sends the
  browser after starting the server): place the lesson's copy in ``~/courses/...`` unless it
  is there already, then open it in JupyterLab.
- ``GET  course-data/<course slug>/<report id>``: "Open course data in JupyterLab" lands
  here: the report's snapshot of the course goes to ``~/course-data/<slug>/``
  (``course_data.py``), then JupyterLab opens that folder.

Every call to the course service carries the server's hub token, so the service decides
with the owner's role and enrollment; nothing here decides who may do what.
"""

from __future__ import annotations

import base64
import json
import posixpath
import secrets
from typing import Any
from urllib.parse import quote, urlencode

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

from coursehub.extensions.course_data import place_course_data
from coursehub.extensions.course_service import CourseService, CourseServiceError, page_url
from coursehub.extensions.lesson_copies import place_lesson_copy
from coursehub.extensions.notification_relay import notification_handlers
from coursehub.hub.constants import SERVICE_PREFIX

AUTH_RESOURCE = "coursehub"
LESSON_ID = r"([0-9]{1,12})"


class CourseHubMixin:
    auth_resource = AUTH_RESOURCE
    settings: dict[str, Any]

    @property
    def course_service(self) -> CourseService:
        return self.settings["coursehub_service"]


class PublishTargetsHandler(CourseHubMixin, APIHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        try:
            targets = await self.course_service.call("GET", "api/lab/lessons")
        except CourseServiceError as error:
            raise web.HTTPError(error.status, error.message) from None
        self.finish(json.dumps(targets))


class PublishHandler(CourseHubMixin, APIHandler):
    @web.authenticated
    @authorized("read", resource="contents")  # it reads a notebook; the service decides
    async def post(self, lesson_id: str) -> None:
        path = (self.get_json_body() or {}).get("path")
        if not isinstance(path, str) or not path.endswith(".ipynb"):
            raise web.HTTPError(400, "Say which notebook to publish: its path, ending in .ipynb.")
        raw = await self.saved_notebook(path)
        try:
            answer = await self.course_service.call(
                "POST",
                f"api/lessons/{int(lesson_id)}/versions",
                body=raw,
                content_type="application/x-ipynb+json",
            )
        except CourseServiceError as error:
            raise web.HTTPError(error.status, error.message) from None
        version, created = answer.get("version"), bool(answer.get("created", True))
        self.log.info("Published %s to lesson %s: version %s", path, lesson_id, version)
        self.finish(
            json.dumps(
                {"lesson_id": int(lesson_id), "version": version, "created": created, "path": path}
            )
        )

    async def saved_notebook(self, path: str) -> bytes:
        return await saved_notebook(self.contents_manager, path)


async def saved_notebook(contents_manager: Any, path: str) -> bytes:
    """The notebook file exactly as saved, whatever contents manager holds it."""
    if not await ensure_async(contents_manager.file_exists(path)):
        raise web.HTTPError(404, f"There is no notebook at {path}; save it first.")
    model = await ensure_async(contents_manager.get(path, content=True, type="file", format="text"))
    return model["content"].encode()


# What the course service takes with one assignment source (assignment_files' limits).
MAX_DATA_FILES = 90
MAX_DATA_BYTES = 64 << 20
SKIPPED_NAMES = (".ipynb_checkpoints", "__pycache__")


class AssignmentCoursesHandler(CourseHubMixin, APIHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        try:
            answer = await self.course_service.call("GET", "api/teach/courses")
        except CourseServiceError as error:
            if error.status != 403:
                raise web.HTTPError(error.status, error.message) from None
            answer = {"courses": None}  # not someone who teaches
        courses = [
            {"slug": course["slug"], "title": course["title"]}
            for course in answer.get("courses") or []
        ]
        self.finish(json.dumps({"can_publish": answer["courses"] is not None, "courses": courses}))


class AssignmentSourceHandler(CourseHubMixin, APIHandler):
    @web.authenticated
    @authorized("read", resource="contents")  # it reads a notebook; the service decides
    async def post(self) -> None:
        fields = self.get_json_body() or {}
        path, slug = fields.get("path"), fields.get("course_slug")
        if not isinstance(path, str) or not path.endswith(".ipynb"):
            raise web.HTTPError(400, "Say which notebook to publish: its path, ending in .ipynb.")
        if not isinstance(slug, str) or not slug:
            raise web.HTTPError(400, "Choose the course the assignment belongs to.")
        title = str(fields.get("title") or "").strip()
        if not title:
            raise web.HTTPError(400, "Give the assignment a title.")
        notebook = await saved_notebook(self.contents_manager, path)
        files = await self.files_beside(path) if fields.get("with_files") else {}
        boundary = secrets.token_hex(16)
        query = urlencode({"title": title})
        try:
            answer = await self.course_service.call(
                "POST",
                f"api/courses/{quote(slug, safe='')}/assignments?{query}",
                body=multipart(boundary, posixpath.basename(path), notebook, files),
                content_type=f"multipart/form-data; boundary={boundary}",
            )
        except CourseServiceError as error:
            raise web.HTTPError(error.status, error.message) from None
        self.log.info("Published %s to %s as assignment %s", path, slug, answer.get("id"))
        page = f"{SERVICE_PREFIX}/courses/{quote(slug, safe='')}/assignments/{answer['id']}/edit"
        self.finish(
            json.dumps(
                {
                    "assignment_id": answer["id"],
                    "title": answer.get("title", title),
                    "course_slug": slug,
                    "path": path,
                    "files": sorted(files),
                    "edit_url": page_url(page),
                }
            )
        )

    async def files_beside(self, path: str) -> dict[str, bytes]:
        """The files in the notebook's folder and below (no notebooks, hidden files or
        checkpoints), by path relative to it; nothing for a notebook at the top folder,
        which holds everything else of the person's."""
        folder = posixpath.dirname(path)
        if not folder:
            raise web.HTTPError(
                400,
                "The notebook is in your top folder, so its data files cannot be told apart "
                "from the rest of your files: move it and its data into a folder of their "
                "own, or publish it without data files.",
            )
        files: dict[str, bytes] = {}
        await self._collect(folder, "", files)
        return files

    async def _collect(self, folder: str, relative: str, files: dict[str, bytes]) -> None:
        manager = self.contents_manager
        where = posixpath.join(folder, relative) if relative else folder
        listing = await ensure_async(manager.get(where, content=True, type="directory"))
        for item in sorted(listing["content"], key=lambda entry: entry["name"]):
            name = item["name"]
            if name.startswith(".") or name in SKIPPED_NAMES or name.endswith(".ipynb"):
                continue
            inner = posixpath.join(relative, name) if relative else name
            if item["type"] == "directory":
                await self._collect(folder, inner, files)
                continue
            file_path = posixpath.join(folder, inner)
            model = await ensure_async(
                manager.get(file_path, content=True, type="file", format="base64")
            )
            files[inner] = base64.b64decode(model["content"])
            if len(files) > MAX_DATA_FILES or sum(map(len, files.values())) > MAX_DATA_BYTES:
                raise web.HTTPError(
                    413,
                    f"The notebook's folder holds more than {MAX_DATA_FILES} files or "
                    f"{MAX_DATA_BYTES >> 20} MB; keep only the data the assignment needs there.",
                )


def multipart(boundary: str, name: str, notebook: bytes, files: dict[str, bytes]) -> bytes:
    """A multipart/form-data body: the field ``notebook`` and one ``files`` part per data
    file, named by its path beside the notebook."""

    def part(field: str, filename: str, content_type: str, content: bytes) -> bytes:
        quoted = filename.replace("\\", "\\\\").replace('"', '\\"')
        head = (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{field}"; filename="{quoted}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        )
        return head.encode() + content + b"\r\n"

    body = part("notebook", name, "application/x-ipynb+json", notebook)
    for path, content in files.items():
        body += part("files", path, "application/octet-stream", content)
    return body + f"--{boundary}--\r\n".encode()


class AssignmentDetailsHandler(CourseHubMixin, APIHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        from coursehub.extensions.exchange.base import name_of  # nbgrader is loaded by now

        try:
            courses = (await self.course_service.call("GET", "api/me/courses"))["courses"]
        except CourseServiceError as error:
            raise web.HTTPError(error.status, error.message) from None
        details = []
        for course in courses:
            slug = course["slug"]
            try:
                answer = await self.course_service.call(
                    "GET", f"api/courses/{quote(slug, safe='')}/assignments"
                )
            except CourseServiceError as error:
                self.log.info("CourseHub: no assignments of %s for the list: %s", slug, error)
                continue
            details += [
                {
                    "course_id": slug,
                    "course_title": course.get("title"),
                    "assignment_id": name_of(assignment["title"], assignment["id"]),
                    "title": assignment["title"],
                    "due_at": assignment.get("due_at"),
                    "cutoff_at": assignment.get("cutoff_at"),
                }
                for assignment in answer.get("assignments", [])
            ]
        self.finish(json.dumps({"assignments": details}))


class OpenLessonHandler(CourseHubMixin, JupyterHandler):
    @web.authenticated
    @authorized("write", resource="contents")  # it may write the lesson's copy
    async def get(self, lesson_id: str) -> None:
        try:
            lesson_copy = await self.course_service.call(
                "GET", f"api/lab/lessons/{int(lesson_id)}/copy"
            )
        except CourseServiceError as error:
            # Error pages format the message with %, so a % in a sentence must be doubled.
            raise web.HTTPError(error.status, error.message.replace("%", "%%")) from None
        try:
            path = await place_lesson_copy(self.contents_manager, lesson_copy)
        except ValueError as error:
            self.log.error("CourseHub sent a lesson copy this server refuses: %s", error)
            raise web.HTTPError(502, "CourseHub sent a lesson this server cannot place.") from None
        self.redirect(url_path_join(self.base_url, "lab", "tree", quote(path)))


class OpenCourseDataHandler(CourseHubMixin, JupyterHandler):
    @web.authenticated
    @authorized("write", resource="contents")  # it writes the snapshot's files
    async def get(self, slug: str, report_id: str) -> None:
        try:
            data = await self.course_service.call(
                "GET", f"api/courses/{quote(slug)}/reports/{int(report_id)}/lab-data"
            )
        except CourseServiceError as error:
            raise web.HTTPError(error.status, error.message.replace("%", "%%")) from None
        try:
            folder = await place_course_data(self.contents_manager, data)
        except ValueError as error:
            self.log.error("CourseHub sent course data this server refuses: %s", error)
            raise web.HTTPError(
                502, "CourseHub sent course data this server cannot place."
            ) from None
        self.redirect(url_path_join(self.base_url, "lab", "tree", quote(folder)))


def setup_handlers(serverapp: Any) -> None:
    web_app = serverapp.web_app
    hub_auth = getattr(serverapp.identity_provider, "hub_auth", None)
    service = CourseService.from_env(token=getattr(hub_auth, "api_token", "") or "")
    web_app.settings["coursehub_service"] = service
    if not service.url:
        serverapp.log.warning(
            "CourseHub: no COURSEHUB_SERVICE_URL, so publishing and lesson copies are off."
        )
    base = url_path_join(web_app.settings["base_url"], "coursehub")
    web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, "api/lessons"), PublishTargetsHandler),
            (url_path_join(base, f"api/lessons/{LESSON_ID}/versions"), PublishHandler),
            (url_path_join(base, "api/assignments"), AssignmentDetailsHandler),
            (url_path_join(base, "api/assignment-courses"), AssignmentCoursesHandler),
            (url_path_join(base, "api/assignment-sources"), AssignmentSourceHandler),
            (url_path_join(base, f"open/{LESSON_ID}"), OpenLessonHandler),
            (
                url_path_join(base, r"course-data/([a-z0-9-]{1,120})/([0-9]{1,12})"),
                OpenCourseDataHandler,
            ),
            *notification_handlers(base),
        ],
    )
