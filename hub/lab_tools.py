"""Which of nbgrader's tools a person's JupyterLab offers: students get students' tools.

nbgrader's JupyterLab extension and server extensions are installed once for everybody, and
out of the box every server offers the instructors' side too: Formgrader, "Formgrader
(local)", the course list, "Create assignment" (menu and right sidebar) and the notebook
toolbar's "Validate". With CourseHub those are for people who teach (hub admins and members
of ``TEACHING_GROUPS``); a student's server keeps the Assignment List (fetch, submit,
feedback) and nothing else of nbgrader's.

It is done with Jupyter's own configuration, per server: the spawner puts
``STUDENT_CONFIG_DIR`` first on a student's ``JUPYTER_CONFIG_PATH``. That folder (shipped in
``coursehub.extensions``, read-only in the sandbox) holds

- ``labconfig/page_config.json``: JupyterLab's ``disabledExtensions``, the plugin ids in
  ``STUDENT_DISABLED_PLUGINS`` (from ``@jupyter/nbgrader``'s labextension, 0.9.6);
- ``jupyter_server_config.d/coursehub-student.json``: ``ServerApp.jpserver_extensions``
  turning off nbgrader's server extensions (formgrader, course list, and the Assignment
  List's and Validate's, which ``coursehub.extensions.lazy_nbgrader`` serves instead,
  importing nbgrader only when the Assignment List is first used: loading any of nbgrader's
  extensions imports the whole package, formgrader included, ~0.5 s of CPU per start).

This decides what is shown, not what is allowed: a student could re-enable the tools in
their own ``~/.jupyter``, and would find nothing behind them, since the course service
decides every call with the person's own role.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import coursehub.extensions
from coursehub.hub.constants import INSTRUCTORS_GROUP

STUDENT_CONFIG_DIR = Path(coursehub.extensions.__file__).parent / "jupyter-config" / "student"

# Hub groups whose members teach (graders of a course are not a hub group yet: they grade in
# CourseHub's own pages, not in nbgrader's formgrader).
TEACHING_GROUPS = (INSTRUCTORS_GROUP,)

STUDENT_DISABLED_PLUGINS = (
    "@jupyter/nbgrader:formgrader",  # Formgrader, Formgrader (local)
    "@jupyter/nbgrader:create-assignment",  # Create assignment: menu, right sidebar
    "@jupyter/nbgrader:course-list",  # Course List
    "@jupyter/nbgrader:validate-assignment",  # the notebook toolbar's Validate
)
STUDENT_DISABLED_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.course_list",
    "nbgrader.server_extensions.assignment_list",  # served by the lazy one below
    "nbgrader.server_extensions.validate_assignment",  # likewise
)
STUDENT_SERVER_EXTENSIONS = ("coursehub.extensions.lazy_nbgrader",)


def teaches(
    admin: bool, groups: Iterable[str], teaching_groups: Iterable[str] = TEACHING_GROUPS
) -> bool:
    """Whether a hub user with this admin flag and these groups gets the instructors' tools."""
    wanted = set(teaching_groups)
    return admin or any(group in wanted for group in groups)


def jupyter_config_path(teacher: bool, inherited: str = "") -> str:
    """The server's JUPYTER_CONFIG_PATH: a student's starts with ``STUDENT_CONFIG_DIR``."""
    if teacher:
        return inherited
    parts = [str(STUDENT_CONFIG_DIR), *(p for p in inherited.split(":") if p)]
    return ":".join(parts)
