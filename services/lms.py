"""The course service process: ``python -m coursehub.services.lms``, started by JupyterHub.

Start-up is a list of small steps, as in JupyterHub's own ``initialize()``. The service never
migrates the database on its own: ``coursehub migrate`` (which ``coursehub up`` runs) does.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import os
import pkgutil
import signal
import socket
import sys
from collections.abc import Coroutine
from pathlib import Path
from types import ModuleType
from typing import Any

import redis.asyncio as redis
from jinja2 import Environment, FileSystemLoader, select_autoescape
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

import coursehub.services
from coursehub import hub
from coursehub.services import processes, structured_logs
from coursehub.services.db import make_engine, make_sessionmaker
from coursehub.services.front_door.wiring import init_front_door
from coursehub.services.lessons.lesson_proxy import LessonServerClient
from coursehub.services.lti.wiring import init_lti
from coursehub.services.notifications.notification_fanout import NotificationFanout
from coursehub.services.payments.wiring import init_payments
from coursehub.services.settings import Settings
from coursehub.services.site_settings.site_settings import SiteSettingsCache
from coursehub.services.web.base import NotFoundHandler
from coursehub.services.web.handlers import status
from coursehub.services.web.hub_oauth import SharedStateOAuthCallback, cookie_options

log = logging.getLogger("coursehub.service")


WEB = Path(__file__).parent / "web"


def template_dirs() -> list[Path]:
    # Installed as a package the hub templates sit at coursehub/hub/templates.
    return [WEB / "templates", Path(hub.__file__).parent / "templates"]


def init_templates(settings: Settings, app_settings: dict[str, Any]) -> None:
    env = Environment(
        loader=FileSystemLoader([str(p) for p in template_dirs()]),
        autoescape=select_autoescape(["html"]),
    )
    app_settings["jinja"] = env


def init_database(settings: Settings, app_settings: dict[str, Any]) -> None:
    engine = make_engine(settings.database_url)
    read_engine = make_engine(settings.database_url, read_only=True)
    app_settings["engines"] = [engine, read_engine]
    app_settings["sessions"] = make_sessionmaker(engine)
    app_settings["read_sessions"] = make_sessionmaker(read_engine)


def init_redis(settings: Settings, app_settings: dict[str, Any]) -> None:
    app_settings["redis"] = redis.from_url(
        settings.redis_url, socket_connect_timeout=2, socket_timeout=5
    )
    # One Redis subscription for all of this process's open notification streams; what it
    # hears is checked against the database (the record) before any page is sent it.
    app_settings["notification_fanout"] = NotificationFanout(
        app_settings["redis"], app_settings["read_sessions"]
    )


def init_background(settings: Settings, app_settings: dict[str, Any]) -> None:
    tasks: set[asyncio.Task[None]] = set()

    def run_in_background(coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    app_settings["background"] = run_in_background
    app_settings["background_tasks"] = tasks


def init_lesson_server(settings: Settings, app_settings: dict[str, Any]) -> None:
    # This process's client of the lesson server (Voilà), shared by every lesson frame.
    app_settings["lesson_server"] = LessonServerClient(settings)


def init_openapi(settings: Settings, app_settings: dict[str, Any]) -> None:
    app_settings["openapi"] = status.load_openapi()


def init_site_settings(settings: Settings, app_settings: dict[str, Any]) -> None:
    # This process's copy of the site settings, reloaded when their version in Redis moves.
    app_settings["site_settings"] = SiteSettingsCache()


INIT_STEPS = [
    init_templates,
    init_database,
    init_redis,
    init_background,
    init_lesson_server,
    init_openapi,
    init_site_settings,
    init_payments,
    init_lti,
    init_front_door,
]


def make_app(settings: Settings) -> web.Application:
    app_settings: dict[str, Any] = {
        "coursehub": settings,
        "xsrf_cookies": True,
        "cookie_secret": settings.cookie_secret,
        "log_function": status.record_request,
        "static_path": str(WEB / "static"),
        "static_url_prefix": f"{settings.service_prefix}/static/",
        # Unknown addresses get CourseHub's styled 404 page, not Tornado's bare one.
        "default_handler_class": NotFoundHandler,
        "xsrf_cookie_kwargs": cookie_options(settings.public_url),
    }
    for step in INIT_STEPS:
        step(settings, app_settings)
    prefix = settings.service_prefix
    handlers: list[Any] = [(f"{prefix}/oauth_callback", SharedStateOAuthCallback)]
    for module in handler_modules():
        handlers.extend(module.default_handlers(prefix))
    return web.Application(handlers, **app_settings)


def handler_modules() -> list[ModuleType]:
    """Every module of a domain's ``handlers`` package (``coursehub.services.<domain>.handlers``)
    that has ``default_handlers``, in the order of their module names."""
    found = []
    for domain in pkgutil.iter_modules(coursehub.services.__path__):
        folder = Path(domain.module_finder.path) / domain.name / "handlers"  # type: ignore[union-attr]
        if not (domain.ispkg and (folder / "__init__.py").is_file()):
            continue
        package = f"coursehub.services.{domain.name}.handlers"
        for info in pkgutil.iter_modules([str(folder)]):
            module = importlib.import_module(f"{package}.{info.name}")
            if hasattr(module, "default_handlers"):
                found.append(module)
    return sorted(found, key=lambda module: module.__name__.rpartition(".")[2])


async def serve(settings: Settings, sockets: list[socket.socket]) -> None:
    app = make_app(settings)
    # What start-up made (modules, templates, the app) lives as long as the process: out of
    # the collector's sight, a full collection walks only what requests made since, instead
    # of pausing every open page's stream for tens of milliseconds.
    gc.collect()
    gc.freeze()
    server = HTTPServer(app, xheaders=True)
    server.add_sockets(sockets)
    log.info(
        "CourseHub course service (pid %d) listening on %s:%d%s",
        os.getpid(),
        settings.bind_ip,
        settings.port,
        settings.service_prefix,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.stop()
    await app.settings["redis"].aclose()
    app.settings["lesson_server"].close()
    for engine in app.settings["engines"]:
        await engine.dispose()


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="[%(levelname)1.1s %(asctime)s coursehub] %(message)s"
    )
    structured_logs.configure("course-service")  # COURSEHUB_LOG_FORMAT=json: JSON lines
    settings = Settings.from_env()
    processes.clear_metrics_folder()
    # Imported once in the parent: a process that replaces a dead one starts serving at once.
    handler_modules()
    # Bound before forking, so every worker accepts on the same socket.
    sockets = bind_sockets(settings.port, address=settings.bind_ip)
    sys.exit(
        processes.run_workers(
            settings.processes, sockets, lambda: asyncio.run(serve(settings, sockets))
        )
    )


if __name__ == "__main__":
    main()
