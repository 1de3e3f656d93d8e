"""The rules of ``lessons.lesson_server`` that need no running server: its settings from the
environment (a token is required), the environment kernels inherit, the one sandboxed
kernelspec, Voilà's configuration (no tracebacks, no overrides, only CourseHub's kernel;
sources are hidden per lesson in its file instead), and every handler behind the token."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest
from tornado.web import HTTPError
from voila.configuration import VoilaConfiguration

from coursehub.services.lessons.lesson_server import (
    KERNEL_NAME,
    PUBLIC_BASE_URL,
    LessonServer,
    LessonServerSettings,
    TemplateAssetHandler,
    TokenRequired,
    _preheated,
    clean_environment,
    page_config_hook,
    voila_config,
    write_kernelspec,
)


def test_the_lesson_server_refuses_to_start_without_its_token(tmp_path):
    with pytest.raises(RuntimeError, match="COURSEHUB_LESSON_TOKEN must be set"):
        LessonServerSettings.from_env({"COURSEHUB_DATA_DIR": str(tmp_path)})


def test_settings_come_from_the_environment_with_defaults(tmp_path):
    settings = LessonServerSettings.from_env(
        {
            "COURSEHUB_LESSON_TOKEN": "t",
            "COURSEHUB_DATA_DIR": str(tmp_path),
            "COURSEHUB_LESSON_POOL_SIZE": "5",
        }
    )
    assert (settings.port, settings.pool_size, settings.pooled_lessons) == (10102, 5, 8)
    assert settings.kernel_uid == 199_999
    assert settings.lessons_dir == tmp_path / "lessons"
    assert settings.course_files_dir == tmp_path / "course-files"
    assert settings.runtime_dir == tmp_path / "lesson-server"


def test_kernels_inherit_only_locale_and_paths():
    environ = {
        "PATH": "/bin",
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "JUPYTER_PATH": "/j",
        "COURSEHUB_LESSON_TOKEN": "secret",
        "DATABASE_URL": "postgresql://x",
        "HOME": "/root",
    }
    clean_environment(environ)
    assert environ == {"PATH": "/bin", "LANG": "C.UTF-8", "TZ": "UTC", "JUPYTER_PATH": "/j"}


def settings_in(tmp_path) -> LessonServerSettings:
    return LessonServerSettings(data_dir=tmp_path, port=10999, token="t", kernel_uid=200_001)


def test_the_kernelspec_runs_ipykernel_behind_the_sandboxing_launcher(tmp_path):
    settings = settings_in(tmp_path)
    write_kernelspec(settings)
    spec = json.loads((settings.runtime_dir / "kernels" / KERNEL_NAME / "kernel.json").read_text())
    assert spec["argv"][:3] == [sys.executable, "-m", "coursehub.services.lessons.lesson_kernel"]
    argv = spec["argv"]
    assert argv[argv.index("--uid") + 1] == "200001"
    assert argv[argv.index("--hide") + 1] == str(tmp_path)
    assert argv[argv.index("--lessons") + 1] == str(settings.lessons_dir)
    assert argv[-1] == "{connection_file}"
    assert spec["interrupt_mode"] == "message"  # bubblewrap passes no signals on


def test_voila_serves_lessons_without_tracebacks_and_leaves_sources_to_each_lesson(tmp_path):
    settings = settings_in(tmp_path)
    config = voila_config(settings)
    assert config.Voila.ip == "127.0.0.1" and config.Voila.port == 10999
    assert config.Voila.base_url == PUBLIC_BASE_URL
    assert config.Voila.root_dir == str(settings.lessons_dir)
    assert config.Voila.token == "t"
    assert config.Voila.tornado_settings["coursehub_lesson_token"] == "t"
    voila = config.VoilaConfiguration
    # Each lesson's file says whether its code shows (lesson_exports.for_lesson_server).
    assert voila.strip_sources is False and voila.show_tracebacks is False
    assert voila.allow_template_override == "NO" and voila.allow_theme_override == "NO"
    assert voila.file_allowlist == []
    assert config.KernelSpecManager.allowed_kernelspecs == {KERNEL_NAME}
    assert config.LessonKernelManager.default_kernel_name == KERNEL_NAME
    assert config.LessonKernelManager.cull_idle_timeout == settings.idle_kernel_seconds


def test_the_themes_are_under_the_lesson_servers_base_url():
    assert page_config_hook({"a": 1}) == {"a": 1, "themesUrl": f"{PUBLIC_BASE_URL}voila/api/themes"}


async def test_a_pool_entry_is_preheated_only_once_its_lesson_has_run():
    loop = asyncio.get_running_loop()

    def done(value=None, error=None) -> asyncio.Future:
        future = loop.create_future()
        if error:
            future.set_exception(error)
        else:
            future.set_result(value)
        return future

    rendered = done("page")
    assert _preheated(done({"task": rendered}))
    assert not _preheated(loop.create_future())  # the kernel is still starting
    assert not _preheated(done(error=RuntimeError("kernel died")))
    assert not _preheated(done({"task": loop.create_future()}))  # still running the lesson
    assert not _preheated(done({"task": done(error=RuntimeError("cell failed"))}))


def test_every_route_of_the_lesson_server_asks_for_its_token(tmp_path):
    server = LessonServer(config=voila_config(settings_in(tmp_path)))
    server.voila_configuration = VoilaConfiguration(parent=server)
    server.static_paths = []
    server.identity_provider = server.identity_provider_class(parent=server, token="t")
    handlers = server.init_handlers()
    routes = [route for route, *_ in handlers]
    assert any("voila/query" in route for route in routes)  # the request-info WebSocket
    assert any("voila/api/shutdown" in route for route in routes)
    assert not any("voila/tree" in route or "voila/files" in route for route in routes)
    for route, handler, *_ in handlers:
        assert issubclass(handler, TokenRequired), route


@pytest.mark.parametrize(
    "path",
    [
        "coursehub-lesson/static/../../../etc/passwd",
        "lab/static/..",
        "../static/x",
        "lab/x/y",
        "lab/static//x",
        "lab/static/a\\..\\b",
        "lab",
    ],
)
def test_template_asset_paths_that_climb_out_are_not_found(path):
    handler = TemplateAssetHandler.__new__(TemplateAssetHandler)
    with pytest.raises(HTTPError) as refused:
        handler.parse_url_path(path)
    assert refused.value.status_code == 404
