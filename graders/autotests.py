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

``expand_autotests`` runs the instructor's notebook in a kernel on this machine, in a
temporary folder holding a copy of its data files: for an instructor's own machine
(``coursehub grade``), as ``nbgrader generate_assignment`` would. A platform uses
``expand_autotests_sandboxed``: the same expansion inside a grading sandbox as a job uid.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import nbformat

from coursehub.graders.assignment_notebooks import (
    InvalidNotebook,
    autotest_lines,
    files_beside,
    parse_notebook,
)
from coursehub.graders.limits import GradingLimits

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
    with tempfile.TemporaryDirectory(prefix="coursehub-autotests-") as temporary:
        work = Path(temporary)
        for name, content in (files_beside(folder / "x.ipynb") if folder else {}).items():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_bytes(content)
        (work / AUTOTESTS).write_bytes(autotests)
        expanded = instantiate(notebook, work)
    return json.dumps(nbformat.from_dict(expanded)).encode()


def instantiate(notebook: nbformat.NotebookNode, folder: Path) -> nbformat.NotebookNode:
    """nbgrader's InstantiateTests on ``notebook`` in ``folder`` (which holds the data files
    and autotests.yml); InvalidNotebook if it fails or leaves a directive."""
    from nbgrader.preprocessors import InstantiateTests

    try:
        expanded, _ = InstantiateTests().preprocess(notebook, {"metadata": {"path": str(folder)}})
    except Exception as error:
        raise InvalidNotebook(
            "nbgrader could not expand the notebook's AUTOTEST directives "
            f"({_describe(error)[:300]}). "
            "Check that every directive is in an 'Autograder tests' cell, that the "
            "solutions run, and that autotests.yml has the notebook's kernel."
        ) from None
    left = autotest_lines(expanded)
    if left:
        raise InvalidNotebook(f"nbgrader left an AUTOTEST directive unexpanded: {left[0]!r}.")
    return expanded


def _describe(error: Exception) -> str:
    """``Name: value`` of an error; nbgrader's CellExecutionError keeps a list where
    ``str()`` expects text, so its own ename and evalue are used when it has them."""
    name = getattr(error, "ename", None) or type(error).__name__
    value = getattr(error, "evalue", None)
    if value is None:
        try:
            value = str(error)
        except Exception:
            value = ""
    return f"{name}: {value or 'see the directive cells'}"


def expand_autotests_sandboxed(
    data: bytes,
    data_files: Mapping[str, bytes],
    autotests: bytes | None,
    *,
    workdir: Path,
    uid: int,
    limits: GradingLimits = GradingLimits(),
    hidden_paths: Sequence[str] = (),
) -> bytes:
    """``expand_autotests`` for a platform: the instructor's notebook runs in a grading
    sandbox (bubblewrap as ``uid`` in ``workdir``, no network, memory and process limits, the
    notebook's time limit), as ``python -m coursehub.graders.autotests``."""
    from coursehub.graders.autograde import _empty, prepare_workdir
    from coursehub.graders.job_cgroup import prlimit_prefix
    from coursehub.graders.sandbox_job import SandboxFailure, job_sandbox, kill_uid
    from coursehub.hub.sandbox import SandboxUnavailable

    notebook = parse_notebook(data, "assignment notebook")
    if not autotest_lines(notebook):
        return data
    if autotests is None:
        raise InvalidNotebook(
            "The notebook uses nbgrader AUTOTEST directives but no autotests.yml came with "
            "it; put the course's autotests.yml beside the notebook and upload both."
        )
    prepare_workdir(workdir, uid)
    try:
        for name, content in {**data_files, AUTOTESTS: autotests}.items():
            target = workdir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        prefix = job_sandbox(workdir, uid, hidden_paths).command_prefix()
        command = [*prlimit_prefix(limits), *prefix, sys.executable, "-m", __name__]
        finished = subprocess.run(
            command,
            input=data,
            capture_output=True,
            cwd=workdir,
            timeout=limits.notebook_timeout_s + limits.startup_grace_s,
            check=False,
        )
    except (SandboxUnavailable, OSError) as error:
        raise SandboxFailure(f"could not run the AUTOTEST expansion: {error}") from error
    except subprocess.TimeoutExpired:
        raise InvalidNotebook(
            "Expanding the AUTOTEST directives ran longer than the notebook's time limit."
        ) from None
    finally:
        kill_uid(uid)
        _empty(workdir)
    try:
        answer = json.loads(finished.stdout)
    except ValueError:
        raise SandboxFailure(
            f"the AUTOTEST expansion failed: {finished.stderr.decode(errors='replace')[-2000:]}"
        ) from None
    if "error" in answer:
        raise InvalidNotebook(str(answer["error"]))
    return json.dumps(answer["notebook"]).encode()


def main() -> None:
    """In the sandbox: the notebook on stdin, data files and autotests.yml in the current
    folder; the expanded notebook (or the sentence saying why not) as JSON on stdout."""
    Path(os.environ.get("HOME", "/tmp")).mkdir(parents=True, exist_ok=True)  # noqa: S108
    out = sys.stdout
    sys.stdout = sys.stderr  # the instructor's prints must not mix with the answer
    try:
        notebook = parse_notebook(sys.stdin.buffer.read(), "assignment notebook")
        answer: dict = {"notebook": instantiate(notebook, Path.cwd())}
    except InvalidNotebook as error:
        answer = {"error": str(error)}
    out.write(json.dumps(answer))
    out.flush()


if __name__ == "__main__":
    main()
