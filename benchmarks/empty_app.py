"""The empty-handler baseline: a minimal Tornado app in a process of its own.

``python -m benchmarks.empty_app PORT PATH`` serves ``GET PATH`` with an empty 200 on
127.0.0.1:PORT until SIGINT or SIGTERM. The benchmark adds a route for it to the running
configurable-http-proxy, so its numbers include the same proxy hop as the course service's.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from tornado import web

REPO = Path(__file__).resolve().parent.parent


class EmptyHandler(web.RequestHandler):
    def get(self) -> None:
        """Nothing: the response is Tornado's own 200 with an empty body."""


async def serve(port: int, path: str) -> None:
    app = web.Application([(path, EmptyHandler)])
    server = app.listen(port, address="127.0.0.1")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.stop()


def main() -> None:
    port, path = int(sys.argv[1]), sys.argv[2]
    asyncio.run(serve(port, path))


if __name__ == "__main__":
    main()


@contextmanager
def running_empty_app(
    port: int, path: str, timeout: float = 20
) -> Iterator[subprocess.Popen[bytes]]:
    """The empty app in a subprocess, answering on 127.0.0.1:``port``; stopped on exit."""
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.empty_app", str(port), path],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"The empty Tornado app exited with {process.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("The empty Tornado app did not answer in time")
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
