"""nbgrader's ``### AUTOTEST`` and ``### HASHED AUTOTEST`` directives, expanded at release.

nbgrader 0.9 turns each directive into asserts when the assignment is generated: its
``InstantiateTests`` preprocessor runs the source notebook (solutions in place) in a kernel,
asks the type of every snippet, and writes the checks ``autotests.yml`` gives for that type
(hashed with a salt for ``HASHED``). CourseHub runs that same preprocessor, with the
notebook's own ``autotests.yml`` (beside it, or the course's), before the source is read:
the expanded source is what gets stored and graded, exactly as nbgrader grades the tests it
saved in its gradebook. A notebook that still has directives afterwards, or whose expansion
fails, is refused with a sentence (``InvalidNotebook``); a directive is never left as a
comment that tests nothing.

The instructor's notebook runs in a kernel here, in a temporary folder holding a copy of
the notebook's data files; on a shared platform call this in a sandbox job (see the
report to the services side), on an instructor's own machine (``coursehub grade``) it runs
as they would run ``nbgrader generate_assignment``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import nbformat

from coursehub.graders.assignment_notebooks import (
    InvalidNotebook,
    autotest_lines,
    files_beside,
    parse_notebook,
)

AUTOTESTS = "autotests.yml"


def find_autotests(folder: Path) -> Path | None:
    """``autotests.yml`` beside the notebook, else in the nbgrader course folder above it
    (``<course>/source/<assignment>/``), where nbgrader looks for it too."""
    for candidate in (folder, folder.parent, folder.parent.parent):
        if (candidate / AUTOTESTS).is_file():
            return candidate / AUTOTESTS
    return None


def expand_autotests(
    data: bytes, folder: Path | None = None, autotests: bytes | None = None
) -> bytes:
    """The source notebook ``data`` with its AUTOTEST directives expanded (unchanged if it
    has none). ``folder`` holds its data files; ``autotests`` is the autotests.yml to use
    (default: found from ``folder``)."""
    notebook = parse_notebook(data, "assignment notebook")
    if not autotest_lines(notebook):
        return data
    if autotests is None and folder is not None:
        found = find_autotests(folder)
        autotests = found.read_bytes() if found else None
    if autotests is None:
        raise InvalidNotebook(
            "The notebook uses nbgrader AUTOTEST directives but no autotests.yml came with "
            "it; put the course's autotests.yml beside the notebook and upload both."
        )
    from nbgrader.preprocessors import InstantiateTests

    with tempfile.TemporaryDirectory(prefix="coursehub-autotests-") as temporary:
        work = Path(temporary)
        for name, content in (files_beside(folder / "x.ipynb") if folder else {}).items():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_bytes(content)
        (work / AUTOTESTS).write_bytes(autotests)
        resources = {"metadata": {"path": str(work)}}
        try:
            expanded, _ = InstantiateTests().preprocess(notebook, resources)
        except InvalidNotebook:
            raise
        except Exception as error:
            raise InvalidNotebook(
                "nbgrader could not expand the notebook's AUTOTEST directives "
                f"({type(error).__name__}: {str(error)[:300] or 'see the directive cells'}). "
                "Check that every directive is in an 'Autograder tests' cell, that the "
                "solutions run, and that autotests.yml has the notebook's kernel."
            ) from None
    left = autotest_lines(expanded)
    if left:
        raise InvalidNotebook(f"nbgrader left an AUTOTEST directive unexpanded: {left[0]!r}.")
    return json.dumps(nbformat.from_dict(expanded)).encode()
