"""nbgrader's student-side server API in a student's server, imported on first use.

nbgrader's Assignment List (``/assignments``, ``/courses``, ``/nbgrader_version``) and its
Validate (``/assignments/validate``) come from nbgrader's server extensions, and loading any
of them imports the whole ``nbgrader`` package (its ``__init__`` imports all four server
extensions, the formgrader's too): about 0.5 s of CPU at every server's start. A student's
server (``coursehub.hub.lab_tools``) turns those extensions off and enables this one
instead: the same URLs, routed to nbgrader's own handlers, which are imported and set up as
nbgrader sets them up the first time one of these URLs is asked for.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.utils import url_path_join
from tornado import httputil
from tornado.routing import Router
from tornado.web import Application, _ApplicationRouter

NBGRADER_PATHS = r"/(?:assignments|courses|nbgrader_version)(?:/.*)?"


class LazyNbgraderRouter(Router):
    def __init__(self, serverapp: Any) -> None:
        self.serverapp = serverapp
        self._router: Router | None = None

    def find_handler(
        self, request: httputil.HTTPServerRequest, **kwargs: Any
    ) -> httputil.HTTPMessageDelegate | None:
        if self._router is None:
            self._router = self._load()
        return self._router.find_handler(request, **kwargs)

    def _load(self) -> Router:
        from nbgrader.server_extensions.assignment_list import handlers as listing
        from nbgrader.server_extensions.validate_assignment import handlers as validating

        app, web_app = self.serverapp, self.serverapp.web_app
        app.log.info("CourseHub: loading nbgrader's Assignment List on first use")
        manager = listing.AssignmentList(parent=app)
        manager.root_dir = app.root_dir
        web_app.settings["assignment_list_manager"] = manager
        web_app.settings["root_dir"] = app.root_dir
        base = web_app.settings["base_url"]
        handlers = [*validating.default_handlers, *listing.default_handlers]
        return _ApplicationRouter(
            web_app, [(url_path_join(base, pattern), handler) for pattern, handler in handlers]
        )


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "coursehub.extensions.lazy_nbgrader"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    web_app = serverapp.web_app
    route = (
        url_path_join(web_app.settings["base_url"], NBGRADER_PATHS),
        LazyNbgraderRouter(serverapp),
    )
    # Tornado's own add_handlers: jupyter_server's looks for a handler class's methods, and
    # a router has none (nbgrader's handlers, which it finds, are authenticated).
    Application.add_handlers(web_app, ".*$", [route])
