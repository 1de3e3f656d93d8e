"""The lesson server: a standalone Voilà that renders notebook lessons with live widgets.

``python -m coursehub.services.lessons.lesson_server`` is started and stopped by JupyterHub with the
platform (the managed service ``coursehub-lessons`` in jupyterhub_config.py). It listens on
127.0.0.1 only, has no route in the public proxy, and answers only requests that carry its
token: the course service authorises every request (sign-in, enrollment, the owner of a
kernel) and reverse-proxies it here, so nobody reaches Voilà without CourseHub's check.

Why standalone Voilà and not its server extension: only the standalone application keeps a
pool of pre-heated kernels (``preheat_kernel``), each one having already run the lesson, so a
student's page is ready the moment it is asked for.

- It serves ``<data>/lessons``, where the course service writes each lesson's published
  version as ``<course id>/<lesson id>/v<number>.ipynb``.
- Pools are made on demand: the first visit of a lesson version starts its pool (that visit
  gets a kernel of its own), later visits take a pre-heated kernel. At most ``pooled_lessons``
  lessons keep a pool; the least recently opened one gives its kernels back. A new version of
  a lesson replaces the pool of the old one.
- Kernels use the ``coursehub-lesson`` kernelspec, written here at start-up, whose command is
  ``lessons.lesson_kernel``: bubblewrap, an unprivileged uid, no network, the data
  directory hidden. The kernel manager gives every kernel a folder of its own for its
  connection file and the IPC sockets ZeroMQ uses instead of TCP.
- This process keeps nothing secret in its environment: it reads its settings, then removes
  every variable but a few harmless ones, because Voilà hands its environment to kernels.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_path
from jupyter_server.base.handlers import APIHandler
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Integer
from traitlets.config import Config
from voila.app import Voila
from voila.static_file_handler import TemplateStaticFileHandler
from voila.tornado.handler import TornadoVoilaHandler

from coursehub.hub.constants import SERVICE_PREFIX

log = logging.getLogger("coursehub.lessons")

KERNEL_NAME = "coursehub-lesson"
TEMPLATE_NAME = "coursehub-lesson"
# The Voilà template (and the script that tells the player the lesson's height) ship here.
JUPYTER_DATA = Path(__file__).resolve().parent / "jupyter"
# Where the browser reaches Voilà's pages and assets: the course service proxies this prefix.
PUBLIC_BASE_URL = f"{SERVICE_PREFIX}/voila/"
# Lesson pages load the widgets (ipywidgets' manager and Voilà's) and syntax colours, not
# every JupyterLab extension installed next to Voilà.
LESSON_EXTENSIONS = [
    "@jupyter-widgets/jupyterlab-manager",
    "@voila-dashboards/widgets-manager8",
    "jupyterlab_pygments",
]
KEPT_VARIABLES = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "VIRTUAL_ENV", "JUPYTER_PATH")


@dataclass(frozen=True)
class LessonServerSettings:
    data_dir: Path
    port: int
    token: str
    pool_size: int = 2
    pooled_lessons: int = 8
    kernel_uid: int = 199_999
    # Kernels nobody is connected to are stopped after this long without activity.
    idle_kernel_seconds: int = 900

    @property
    def lessons_dir(self) -> Path:
        return self.data_dir / "lessons"

    @property
    def course_files_dir(self) -> Path:
        return self.data_dir / "course-files"

    @property
    def runtime_dir(self) -> Path:
        return self.data_dir / "lesson-server"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LessonServerSettings:
        token = env.get("COURSEHUB_LESSON_TOKEN", "")
        if not token:
            raise RuntimeError(
                "COURSEHUB_LESSON_TOKEN must be set: the course service presents it on every "
                "request it forwards to the lesson server (jupyterhub_config.py sets it)."
            )
        return cls(
            data_dir=Path(env.get("COURSEHUB_DATA_DIR", ".coursehub")).resolve(),
            port=int(env.get("COURSEHUB_LESSON_PORT", "10102")),
            token=token,
            pool_size=int(env.get("COURSEHUB_LESSON_POOL_SIZE", "2")),
            pooled_lessons=int(env.get("COURSEHUB_LESSON_POOLED_LESSONS", "8")),
            kernel_uid=int(env.get("COURSEHUB_LESSON_KERNEL_UID", "199999")),
        )


def clean_environment(environ: dict[str, str]) -> None:
    """Drop every variable but locale and paths: kernels inherit this process's environment."""
    for name in list(environ):
        if name not in KEPT_VARIABLES:
            del environ[name]


def write_kernelspec(settings: LessonServerSettings) -> None:
    """The ``coursehub-lesson`` kernelspec: ipykernel behind the sandboxing launcher."""
    folder = settings.runtime_dir / "kernels" / KERNEL_NAME
    folder.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable, "-m", "coursehub.services.lessons.lesson_kernel",
        "--uid", str(settings.kernel_uid),
        "--hide", str(settings.data_dir),
        "--lessons", str(settings.lessons_dir),
        "--course-files", str(settings.course_files_dir),
        "{connection_file}",
    ]  # fmt: skip
    spec = {
        "argv": argv,
        "display_name": "CourseHub lesson (Python 3, sandboxed)",
        "language": "python",
        # bubblewrap does not pass signals on: interrupts go over the control channel.
        "interrupt_mode": "message",
        "metadata": {"debugger": False},
    }
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1))


class LessonKernelManager(AsyncMappingKernelManager):
    """Kernels for lessons: each with a folder of its own, talking ZeroMQ over IPC sockets.

    Voilà derives its pooling kernel manager from this class, so the pool methods used below
    (``_pools``, ``fill_if_needed``, ``notebook_data``) come from Voilà's subclass.
    """

    pooled_lessons = Integer(8, config=True, help="How many lessons keep pre-heated kernels.")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._last_opened: dict[str, float] = {}
        self._draining: set[asyncio.Future[None]] = set()

    def pre_start_kernel(self, kernel_name: str | None, kwargs: Any) -> tuple[Any, str, str]:
        manager, kernel_name, kernel_id = super().pre_start_kernel(kernel_name, kwargs)
        folder = Path(self.connection_dir) / kernel_id
        folder.mkdir(mode=0o700)
        manager.connection_file = str(folder / "connection.json")
        manager.transport = "ipc"
        manager.ip = str(folder / "zmq")
        return manager, kernel_name, kernel_id

    def remove_kernel(self, kernel_id: str) -> Any:
        manager = super().remove_kernel(kernel_id)
        shutil.rmtree(Path(self.connection_dir) / kernel_id, ignore_errors=True)
        return manager

    # -- pools on demand ---------------------------------------------------------------------

    def ensure_pool(self, notebook: str) -> None:
        """Start pre-heating ``notebook`` (a lesson version) unless it is already pooled."""
        self._last_opened[notebook] = time.monotonic()
        pools: dict[str, list[Any]] = self._pools  # type: ignore[attr-defined]
        if notebook in pools or not (Path(self.root_dir) / notebook).is_file():
            return
        folder = str(Path(notebook).parent)
        for other in [name for name in pools if str(Path(name).parent) == folder]:
            self._drain(other)  # an older version of the same lesson
        while len(pools) >= max(self.pooled_lessons, 1):
            self._drain(min(pools, key=lambda name: self._last_opened.get(name, 0)))
        log.info("Pre-heating kernels for lesson %s", notebook)
        self.fill_if_needed(delay=0, notebook_name=notebook)  # type: ignore[attr-defined]

    def _drain(self, notebook: str) -> None:
        tasks = self._pools.pop(notebook, [])  # type: ignore[attr-defined]
        self.notebook_data.pop(notebook, None)  # type: ignore[attr-defined]
        self._last_opened.pop(notebook, None)
        log.info("Giving back the %d pre-heated kernel(s) of %s", len(tasks), notebook)
        task = asyncio.ensure_future(self._shut_down_pooled(tasks))
        self._draining.add(task)
        task.add_done_callback(self._draining.discard)

    async def _shut_down_pooled(self, tasks: list[asyncio.Task[dict[str, Any]]]) -> None:
        for task in tasks:
            try:
                kernel_id = (await task)["kernel_id"]
                await self.shutdown_kernel(kernel_id)
            except Exception as error:  # a kernel that failed to start has nothing to stop
                log.debug("Pooled kernel could not be stopped: %s", error)

    def pool_status(self) -> dict[str, dict[str, int]]:
        pools: dict[str, list[asyncio.Task[Any]]] = self._pools  # type: ignore[attr-defined]
        return {
            name: {"ready": sum(map(_preheated, tasks)), "size": len(tasks)}
            for name, tasks in pools.items()
        }


def _preheated(task: asyncio.Task[dict[str, Any]]) -> bool:
    """Whether a pool entry's kernel has started and run the whole lesson."""
    if not task.done() or task.cancelled() or task.exception() is not None:
        return False
    rendering = task.result()["task"]
    return rendering.done() and not rendering.cancelled() and rendering.exception() is None


class TokenRequired:
    """Mixin for every handler of the lesson server: no token, no answer (403).

    The course service sends ``Authorization: token <token>`` on every request and WebSocket
    it forwards; Voilà's own checks cover only some of its handlers (its assets, the
    request-info WebSocket and others answer anyone who reaches the port).
    """

    def prepare(self) -> Any:
        token = self.settings.get("coursehub_lesson_token", "")  # type: ignore[attr-defined]
        sent = self.request.headers.get("Authorization", "")  # type: ignore[attr-defined]
        if not token or not hmac.compare_digest(sent.encode(), f"token {token}".encode()):
            raise web.HTTPError(403)
        return super().prepare()  # type: ignore[misc]


def token_required(handler: type) -> type:
    """``handler`` behind the lesson server's token."""
    return type(handler.__name__, (TokenRequired, handler), {})


class TemplateAssetHandler(TemplateStaticFileHandler):
    """Voilà's template assets, where a path that climbs out (``..%2F``) is not found
    rather than failing on Voilà's assertion (500)."""

    def parse_url_path(self, path: str) -> str:
        parts = path.split("/")
        if len(parts) < 3 or parts[1] != "static" or {"", ".", ".."} & set(parts) or "\\" in path:
            raise web.HTTPError(404)
        return super().parse_url_path(path)


class LessonRenderHandler(TornadoVoilaHandler):
    """Voilà's page for a notebook, which first makes sure the lesson is being pre-heated."""

    async def get(self, path: str | None = None) -> None:
        if path and path.endswith(".ipynb"):
            self.kernel_manager.ensure_pool(path)
        await super().get(path=path)


class PoolStatusHandler(APIHandler):
    """``GET /coursehub/pools``: pre-heated kernels per lesson version, and kernels in all."""

    @web.authenticated
    def get(self) -> None:
        manager = self.kernel_manager
        self.finish({"pools": manager.pool_status(), "kernels": len(manager.list_kernel_ids())})


class LessonServer(Voila):
    """Voilà with CourseHub's handlers: lesson pages, assets, kernels; no file browser."""

    name = "coursehub-lessons"

    @property
    def data_dir(self) -> str:
        # Voilà's own data (its themes), not the folder that holds CourseHub's template.
        for folder in jupyter_path("voila"):
            if (Path(folder) / "themes").is_dir():
                return folder
        return super().data_dir

    def init_handlers(self) -> list[Any]:
        kept = [
            handler
            for handler in super().init_handlers()
            if handler[1].__name__ not in ("TornadoVoilaTreeHandler", "VoilaContentsHandler")
            and not handler[0].endswith("/voila/files/(.*)")
        ]
        ours = {
            TornadoVoilaHandler: LessonRenderHandler,
            TemplateStaticFileHandler: TemplateAssetHandler,
        }
        replaced = [(route, ours.get(cls, cls), *rest) for route, cls, *rest in kept]
        return [
            (route, token_required(cls), *rest)
            for route, cls, *rest in [*replaced, ("/coursehub/pools", PoolStatusHandler)]
        ]


def page_config_hook(page_config: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
    """Voilà's page config points the themes at the web root; they are under its base URL.
    (MathJax stays pointed at its CDN, which the lesson page's policy does not load.)"""
    page_config["themesUrl"] = f"{PUBLIC_BASE_URL}voila/api/themes"
    return page_config


def voila_config(settings: LessonServerSettings) -> Config:
    config = Config()
    config.Voila.update(
        ip="127.0.0.1",
        port=settings.port,
        port_retries=0,
        open_browser=False,
        base_url=PUBLIC_BASE_URL,
        server_url="/",
        root_dir=str(settings.lessons_dir),
        token=settings.token,
        config_file_paths=[],
        tornado_settings={"xsrf_cookies": False, "coursehub_lesson_token": settings.token},
    )
    config.VoilaConfiguration.update(
        preheat_kernel=True,
        default_pool_size=settings.pool_size,
        template=TEMPLATE_NAME,
        theme="light",
        allow_template_override="NO",
        allow_theme_override="NO",
        # Per lesson instead: a lesson whose code stays hidden has its code cells' sources
        # marked for removal in its file (``lesson_exports.for_lesson_server``).
        strip_sources=False,
        show_tracebacks=False,
        file_allowlist=[],
        extension_allowlist=LESSON_EXTENSIONS,
        attempt_fix_notebook=False,
        multi_kernel_manager_class=f"{__name__}.LessonKernelManager",
        page_config_hook=page_config_hook,
    )
    # The kernelspec folder is on JUPYTER_PATH (see ``prepare``); only CourseHub's runs.
    config.KernelSpecManager.update(ensure_native_kernel=False, allowed_kernelspecs={KERNEL_NAME})
    config.LessonKernelManager.update(
        pooled_lessons=settings.pooled_lessons,
        default_kernel_name=KERNEL_NAME,
        cull_idle_timeout=settings.idle_kernel_seconds,
        cull_interval=60,
        cull_connected=False,
    )
    # Lessons start in the export folder; nothing there to list or preheat at start-up.
    config.VoilaKernelManager.preheat_denylist = [".*"]
    config.KernelManager.transport = "ipc"
    return config


def prepare(settings: LessonServerSettings) -> None:
    """Folders, the kernelspec, and JUPYTER_PATH entries for the kernelspec and the template."""
    for folder in (settings.lessons_dir, settings.course_files_dir, settings.runtime_dir):
        folder.mkdir(parents=True, exist_ok=True)
    settings.runtime_dir.chmod(0o700)
    write_kernelspec(settings)
    inherited = filter(None, os.environ.get("JUPYTER_PATH", "").split(os.pathsep))
    paths = [str(settings.runtime_dir), str(JUPYTER_DATA), *inherited]
    os.environ["JUPYTER_PATH"] = os.pathsep.join(paths)


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="[%(levelname)1.1s %(asctime)s coursehub-lessons] %(message)s"
    )
    settings = LessonServerSettings.from_env(os.environ)
    clean_environment(os.environ)
    prepare(settings)
    LessonServer.launch_instance(argv=[], config=voila_config(settings))


if __name__ == "__main__":
    main()
