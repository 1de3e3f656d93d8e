"""A second course service on a database of the benchmark's choosing, for comparing one page
on a large and on a small database with everything else equal.

``python -m benchmarks.service_twin PORT PREFIX`` serves the course service's handlers under
``PREFIX`` (for example ``/coursehub-bench/small-db``) on 127.0.0.1:PORT, as one process, with
the settings in its environment (``DATABASE_URL`` names the database). It checks hub tokens
with the hub like the real service, so the benchmark's proxy can route ``PREFIX`` to it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from coursehub.hub.constants import SERVICE_NAME
from coursehub.services import lms
from coursehub.services.settings import Settings
from tests.platform import Platform

REPO = Path(__file__).resolve().parent.parent


async def serve(port: int, prefix: str) -> None:
    settings = dataclasses.replace(Settings.from_env(), service_prefix=prefix, port=port)
    app = lms.make_app(settings)
    server = app.listen(port, address="127.0.0.1", xheaders=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.stop()
    for engine in app.settings.get("engines", [app.settings.get("engine")]):
        if engine is not None:
            await engine.dispose()


def main() -> None:
    asyncio.run(serve(int(sys.argv[1]), sys.argv[2]))


def twin_environment(platform: Platform, database_url: str) -> dict[str, str]:
    """The real service's settings for this platform, on ``database_url``."""
    shared = json.loads((platform.data_dir / "secrets.json").read_text())
    env = dict(platform.env)
    env.update(
        DATABASE_URL=database_url,
        COURSEHUB_COOKIE_SECRET=shared["cookie_secret"],
        JUPYTERHUB_API_TOKEN=shared["service_token"],
        JUPYTERHUB_API_URL=f"http://127.0.0.1:{platform.env['COURSEHUB_HUB_PORT']}/hub/api",
        JUPYTERHUB_SERVICE_NAME=SERVICE_NAME,
        JUPYTERHUB_CLIENT_ID=f"service-{SERVICE_NAME}",
    )
    return env


@contextmanager
def running_twin(
    platform: Platform, database_url: str, port: int, prefix: str, timeout: float = 30
) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.service_twin", str(port), prefix],
        cwd=REPO,
        env=twin_environment(platform, database_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"The service twin at {prefix} exited ({process.returncode})")
            try:
                health = httpx.get(f"http://127.0.0.1:{port}{prefix}/health", timeout=2)
                if health.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"The service twin at {prefix} did not answer in time")
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    main()
