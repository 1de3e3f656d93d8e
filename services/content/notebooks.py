"""Reading uploaded notebooks safely: size, JSON, nbformat schema, and their searchable text."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import nbformat

from coursehub.services.errors import Refusal

DEFAULT_MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024


class NotebookError(Refusal):
    """An upload that is not a usable notebook; the message says what to fix."""


def read_notebook(data: bytes, max_bytes: int = DEFAULT_MAX_NOTEBOOK_BYTES) -> dict[str, Any]:
    """The notebook in ``data`` as a plain dict (nbformat 4), or a NotebookError."""
    if len(data) > max_bytes:
        raise NotebookError(
            f"The notebook is {len(data) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB. "
            "Clear large outputs (Edit > Clear All Outputs) and try again."
        )
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise NotebookError(
            "This file is not a Jupyter notebook: it is not JSON. Upload the .ipynb file "
            "saved by JupyterLab."
        ) from None
    if not isinstance(raw, dict) or "cells" not in raw or "nbformat" not in raw:
        raise NotebookError(
            "This file is JSON but not a Jupyter notebook (it has no cells or nbformat)."
        )
    try:
        notebook = nbformat.reads(json.dumps(raw), as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises several kinds for broken notebooks
        raise NotebookError(f"This notebook is damaged and cannot be opened: {error}") from None
    return json.loads(nbformat.writes(notebook))


def plain_text(notebook: dict[str, Any]) -> str:
    """Markdown and code of the notebook as one text, for full-text search."""
    parts = []
    for cell in notebook.get("cells", []):
        source = cell.get("source", "")
        parts.append("".join(source) if isinstance(source, list) else str(source))
    return "\n".join(parts)


def digest(notebook: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(notebook, sort_keys=True).encode()).hexdigest()
