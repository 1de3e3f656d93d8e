"""The single-machine spawner: each user's JupyterLab in a home of its own under the data dir.

This is the demo and development default. Production uses SystemdSpawner (one big machine,
a Unix user per person) or KubeSpawner through Zero to JupyterHub (many machines); see README.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from jupyterhub.spawner import SimpleLocalProcessSpawner
from traitlets import Unicode, default


class CourseSpawner(SimpleLocalProcessSpawner):
    homes_dir = Unicode(config=True, help="Folder that holds one home folder per user.")

    @default("home_dir_template")
    def _home_dir_template_default(self) -> str:
        return str(Path(self.homes_dir) / "{username}")

    @default("cmd")
    def _cmd_default(self) -> list[str]:
        # The hub's own interpreter, so the server starts without an activated environment.
        return [sys.executable, "-m", "jupyterhub.singleuser"]

    @default("default_url")
    def _default_url_default(self) -> str:
        return "/lab"

    @default("args")
    def _args_default(self) -> list[str]:
        # Running the hub as root in development: the server would refuse to start otherwise.
        return ["--allow-root"] if os.geteuid() == 0 else []
