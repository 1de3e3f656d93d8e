"""Site settings' notebook-server quotas reach the hub's spawner: a server started after an
administrator changed them runs in a cgroup with that memory and CPU limit, without a restart
(coursehub.hub.server_limits)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import psutil
import pytest
import redis.asyncio as redis

from coursehub.hub.constants import Role
from coursehub.hub.server_limits import CGROUP_ROOT
from coursehub.services.models import Account
from coursehub.services.site_settings import site_settings
from tests.test_notebook_servers import _environ_of, wait_for_lab

MB = 1024 * 1024
# Servers are limited with cgroup v1 controllers, as root (the suite runs as root for its
# sandboxes): a machine without them fails here rather than skipping the check.
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes need root")


def test_this_machine_has_the_cgroup_controllers_that_limit_servers() -> None:
    assert (CGROUP_ROOT / "memory" / "cgroup.procs").exists()


def server_process(username: str) -> psutil.Process:
    servers = [
        process
        for process in psutil.process_iter(["cmdline", "uids"])
        if "jupyterhub.singleuser" in (command := " ".join(process.info["cmdline"] or []))
        and "coursehub.hub.netbridge" not in command
        and process.info["uids"].real != 0
        and f"JUPYTERHUB_USER={username}".encode() in _environ_of(process)
    ]
    assert len(servers) == 1, servers
    return servers[0]


def limits_of(process: psutil.Process) -> tuple[int, int]:
    """The memory limit (bytes) and CPU quota (µs per 100 ms) of the process' cgroups."""
    groups = dict(
        line.split(":", 2)[1:] for line in Path(f"/proc/{process.pid}/cgroup").read_text().split()
    )
    memory = CGROUP_ROOT / "memory" / groups["memory"].lstrip("/")
    cpu = CGROUP_ROOT / "cpu" / groups["cpu"].lstrip("/")
    assert "coursehub-servers" in str(memory) and "coursehub-servers" in str(cpu)
    return (
        int((memory / "memory.limit_in_bytes").read_text()),
        int((cpu / "cpu.cfs_quota_us").read_text()),
    )


async def test_a_changed_server_quota_applies_at_the_next_start_without_a_restart(
    platform, sessions, redis_url, make_account, signed_in
):
    admin, student = make_account(Role.ADMIN), make_account()
    client = redis.from_url(redis_url)

    async def set_quotas(memory_mb: int | str, cpus: int | str) -> None:
        async with sessions() as session:
            actor = await session.get_one(Account, admin.id)
            await site_settings.change(
                session, client, actor, {"server_memory_mb": memory_mb, "server_cpus": cpus}
            )
            await session.commit()
        await site_settings.bump_version(client)

    http = signed_in(student)
    server = f"{platform.url}/hub/api/users/{student.username}/server"

    def start_and_read() -> tuple[int, int, bytes]:
        http.get(f"{platform.url}/hub/home")
        started = http.post(
            server, headers={"X-XSRFToken": http.cookies.get("_xsrf", path="/hub/")}
        )
        assert started.status_code in (201, 202), started.text
        wait_for_lab(http, platform, student.username)
        process = server_process(student.username)
        memory, quota = limits_of(process)
        environ = _environ_of(process)
        stopped = http.delete(
            server, headers={"X-XSRFToken": http.cookies.get("_xsrf", path="/hub/")}
        )
        assert stopped.status_code in (202, 204), stopped.text
        return memory, quota, environ

    try:
        await set_quotas(600, 1)
        memory, quota, environ = start_and_read()
        assert (memory, quota) == (600 * MB, 100_000)
        assert f"MEM_LIMIT={600 * MB}".encode() in environ  # jupyter-resource-usage shows it

        # The administrator raises them: the same hub gives the next start the new ones.
        await set_quotas(900, 2)
        for _ in range(60):  # the stop is asynchronous: the next start waits for it
            if http.get(f"{server.rsplit('/', 1)[0]}").json().get("server") is None:
                break
            await asyncio.sleep(1)
        memory, quota, _ = start_and_read()
        assert (memory, quota) == (900 * MB, 200_000)
    finally:
        await set_quotas("", "")
        await client.aclose()
