"""CourseHub inside each person's Jupyter server.

- The server extension ``coursehub.extensions`` adds ``<base url>/coursehub/...``: the API
  behind JupyterLab's "Publish to course…" and the landing page of "Open in JupyterLab"
  (``handlers.py``). It talks to the course service only over HTTP, as the server's owner,
  with the server's own hub token (``course_service.py``).
- The JupyterLab extension ``coursehub-lab`` (sources in ``lab/``, the prebuilt bundle in
  ``labextension/``) adds the "Publish to course…" command.

Both enable themselves when CourseHub is installed: pip puts
``etc/jupyter/jupyter_server_config.d/coursehub.json`` and
``share/jupyter/labextensions/coursehub-lab`` into the environment (pyproject.toml,
``data-files``). Nothing here imports the course service or SQLAlchemy.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "coursehub.extensions"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "coursehub-lab"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from coursehub.extensions.handlers import setup_handlers

    setup_handlers(serverapp)
