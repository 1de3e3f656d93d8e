"""nbgrader's own commands for many course folders in one process (the fidelity tests'
baseline): ``python -m tests.nbgrader_baseline generate_assignment|autograde FOLDER...``.

Each folder is an nbgrader course (``nbgrader_config.py``, ``source/ps1``, ``submitted/``);
each runs as ``nbgrader <command> ps1 --force`` (``--create`` for autograde) run in that
folder would: the same applications (through ``NbGraderAPI``), the folder's config file, the
folder as the working directory (where nbgrader looks for a course-wide ``autotests.yml``).
One interpreter for every folder instead of one ``nbgrader`` process per folder and command.
Prints one JSON object: folder -> {"success": bool, "log": str, "error": str}.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ASSIGNMENT = "ps1"


def run(command: str, folder: Path) -> dict[str, Any]:
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    os.chdir(folder)
    config = PyFileConfigLoader("nbgrader_config.py", path=str(folder)).load_config()
    config.CourseDirectory.root = str(folder)
    api = NbGraderAPI(config=config)
    if command == "generate_assignment":
        return dict(api.generate_assignment(ASSIGNMENT, force=True))
    if command == "autograde":
        results = [
            dict(api.autograde(ASSIGNMENT, student.name, force=True, create=True))
            for student in sorted((folder / "submitted").iterdir())
        ]
        return {
            "success": all(result["success"] for result in results),
            "log": "\n".join(result.get("log") or "" for result in results),
            "error": "\n".join(result.get("error") or "" for result in results),
        }
    raise SystemExit(f"unknown command {command!r}")


def main(command: str, *folders: str) -> None:
    # nbgrader runs ``alembic`` from PATH for its gradebook: this interpreter's scripts first.
    scripts = str(Path(sys.executable).parent)
    os.environ["PATH"] = f"{scripts}:{os.environ.get('PATH', '')}"
    outcome = {}
    for folder in folders:
        try:
            outcome[folder] = run(command, Path(folder))
        except Exception as error:  # one course's failure is that course's test's failure
            outcome[folder] = {"success": False, "log": "", "error": repr(error)}
    print(json.dumps(outcome))


if __name__ == "__main__":
    main(*sys.argv[1:])
