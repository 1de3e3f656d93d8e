"""The executed notebook as the student may see it: no hidden test, nowhere.

Test cells show the student version's text. Cells whose tests had hidden parts lose their
outputs (a traceback or a print could quote a hidden test); the others keep theirs, with a
failure shortened to its one-line message. Any other output that quotes a
line of a hidden test (student code could have watched it run and printed it later) is
replaced by a note, and that is flagged.
"""

from __future__ import annotations

import copy
import json

import nbformat

from coursehub.graders.rebuild import CheckCode

WITHHELD = "[CourseHub: this output quoted a hidden test and was removed]\n"
MIN_QUOTED = 8  # shorter hidden lines (``pass``, ``)``) are too common to count as quotes


def hidden_lines(tests: dict[int, CheckCode]) -> set[str]:
    quoted = set()
    for check in tests.values():
        lines = check.code.split("\n")
        for number in check.hidden_lines:
            line = lines[number - 1].strip()
            if len(line) >= MIN_QUOTED and not line.startswith("#"):
                quoted.add(line)
    return quoted


def feedback_notebook(
    executed: nbformat.NotebookNode,
    released_cells: dict[int, nbformat.NotebookNode],
    tests: dict[int, CheckCode],
) -> tuple[dict, list[str]]:
    """(notebook JSON for the student, flags). ``released_cells``: test cells by index, as
    the student version has them."""
    notebook = copy.deepcopy(executed)
    secrets = hidden_lines(tests)
    flags: list[str] = []
    for index, cell in enumerate(notebook.cells):
        cell.metadata.pop("coursehub_reply", None)
        if index in tests:
            cell.source = released_cells[index].source
            if tests[index].has_hidden:
                cell.outputs = []
                continue
            for output in cell.outputs:  # the traceback would show the grader's executor
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        if cell.cell_type != "code":
            continue
        for number, output in enumerate(cell.outputs):
            text = json.dumps(output)
            if any(json.dumps(secret)[1:-1] in text for secret in secrets):
                cell.outputs[number] = nbformat.v4.new_output(
                    "stream", name="stdout", text=WITHHELD
                )
                flags.append(f"Cell {index + 1}'s output quoted a hidden test; it was removed.")
    return json.loads(nbformat.writes(notebook)), flags
