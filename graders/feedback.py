"""The executed notebook as the student may see it: no hidden test, nowhere.

Test cells show the student version's text. Their outputs are of two kinds: what the test
itself made in the judge (its prints, its last value, its failure with the test's visible
lines) and what the student's code printed while the test called it.

The rule, stated in the notebook wherever it applies: from the first test with hidden parts
on, nothing the student's code printed is shown (it may have seen and remembered what a
hidden test passed it), except the outputs of answers a person grades (the grader and the
student see the work that is graded; an output there that shows what a hidden test passed
is flagged as argument spying). A test with hidden parts shows only a failure in one of its
visible lines. Any other output that still quotes a line of a hidden test is replaced by a note,
and that is flagged for staff.
"""

from __future__ import annotations

import copy
import json

import nbformat

from coursehub.graders.assignment_notebooks import cell_kind
from coursehub.graders.rebuild import CheckCode

WITHHELD = "[CourseHub: this output quoted a hidden test and was removed]\n"
RULE = (
    "[CourseHub: what your code printed from the first test with hidden parts on is not "
    "shown (except in answers a person grades), so that hidden tests stay hidden.]\n"
)
MIN_QUOTED = 8  # shorter hidden lines (``pass``, ``)``) are too common to count as quotes
JUDGE_OUTPUTS = "coursehub_judge_outputs"


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
    report: dict | None = None,
) -> tuple[dict, list[str]]:
    """(notebook JSON for the student, flags). ``released_cells``: test cells by index, as
    the student version has them; ``report``: the runner's."""
    notebook = copy.deepcopy(executed)
    secrets = hidden_lines(tests)
    records = (report or {}).get("cells", {})
    first_hidden = min((i for i, check in tests.items() if check.has_hidden), default=None)
    flags: list[str] = []
    for index, cell in enumerate(notebook.cells):
        cell.metadata.pop("coursehub_reply", None)
        judge_count = cell.metadata.pop(JUDGE_OUTPUTS, 0)
        if cell.cell_type != "code":
            continue
        theirs = cell.outputs[: len(cell.outputs) - judge_count]
        ours = cell.outputs[len(cell.outputs) - judge_count :]
        if index in tests:
            cell.source = released_cells[index].source
            if tests[index].has_hidden:
                judged = records.get(str(index), {}).get("judge") or {}
                shown_failure = judged.get("status") == "fail" and not judged.get("hidden")
                ours = [o for o in ours if o.output_type == "error" and shown_failure]
        withheld = (
            first_hidden is not None
            and index >= first_hidden
            and bool(theirs)
            and cell_kind(cell) != "manual"  # a person grades what it shows
        )
        cell.outputs = ([nbformat.v4.new_output("stream", name="stdout", text=RULE)]
                        if withheld else list(theirs)) + list(ours)  # fmt: skip
        for number, output in enumerate(cell.outputs):
            text = json.dumps(output)
            if any(json.dumps(secret)[1:-1] in text for secret in secrets):
                cell.outputs[number] = nbformat.v4.new_output(
                    "stream", name="stdout", text=WITHHELD
                )
                flags.append(f"Cell {index + 1}'s output quoted a hidden test; it was removed.")
    return json.loads(nbformat.writes(notebook)), flags
