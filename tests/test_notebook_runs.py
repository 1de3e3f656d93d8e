"""An instructor's notebook runs top to bottom with papermill in the grading sandbox: its
parameters are injected, its data files are there, and whatever goes wrong comes back as a
story for the author (which cell, which error, which time limit) instead of an exception."""

from __future__ import annotations

import os

import nbformat
import pytest

from coursehub.services.notebook_runs.papermill_runs import run_notebook

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes need root")


def notebook(*cells: str, parameters: str | None = None) -> nbformat.NotebookNode:
    made = nbformat.v4.new_notebook()
    made.cells.append(nbformat.v4.new_markdown_cell("# Weather in one city"))
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        made.cells.append(cell)
    made.cells += [nbformat.v4.new_code_cell(source) for source in cells]
    return made


def outputs_text(cell: nbformat.NotebookNode) -> str:
    return "".join(output.get("text", "") for output in cell.get("outputs", []))


async def test_a_lesson_runs_with_its_parameters_and_files_and_names_the_cell_that_raises():
    lesson = notebook(
        "rows = open('data/weather.csv').read().splitlines()\nprint(city, len(rows) * repeat)",
        "1 / 0",
        "print('never reached')",
        parameters="city = 'Lisbon'\nrepeat = 1",
    )
    run = await run_notebook(
        lesson,
        parameters={"city": "Porto", "repeat": 10},
        files={"data/weather.csv": b"day,temp\n1,20\n2,22\n"},
        timeout_seconds=120,
    )

    # The executed copy is kept: papermill's injected values ran after the parameters cell.
    executed = [cell for cell in run.notebook.cells if cell.cell_type == "code"]
    assert "injected-parameters" in executed[1].metadata["tags"]
    assert 'city = "Porto"' in executed[1].source
    assert outputs_text(executed[2]) == "Porto 30\n"

    # The third cell of the author's notebook (index 3 with the heading) raised: named, with
    # its traceback in plain text; the cell after it never ran.
    assert not run.ok and not run.timed_out
    assert run.failed_cell == 3
    assert [cell.index for cell in run.cells] == [1, 2, 3]
    failed = run.cells[-1]
    assert failed.error_name == "ZeroDivisionError"
    assert "division by zero" in failed.error_text and "\x1b[" not in failed.error_text
    assert run.problem == "Cell 4 (`1 / 0`) raised ZeroDivisionError."
    assert run.not_run == [4]
    assert all(cell.seconds >= 0 for cell in run.cells)
    assert run.missing_files == [] and not run.widgets


async def test_a_cell_that_never_ends_is_stopped_and_named_and_a_missing_file_is_listed():
    lesson = notebook(
        "import os\nos.path.exists('data/weather.csv')",
        "while True:\n    pass",
    )
    run = await run_notebook(lesson, cell_timeout_seconds=5, timeout_seconds=120)
    assert not run.ok and run.timed_out
    assert run.failed_cell == 2
    assert run.problem == ("The run was stopped at its time limit (5 s) in cell 3 (`while True:`).")

    missing = notebook("import pandas\n", "open('data/rainfall.csv')")
    missing.cells[1].source = "x = 1"
    run = await run_notebook(missing, timeout_seconds=120)
    assert not run.ok and run.failed_cell == 2
    assert run.cells[-1].error_name == "FileNotFoundError"
    assert run.missing_files == ["data/rainfall.csv"]


async def test_the_whole_run_has_a_time_limit_too():
    lesson = notebook("import time", "time.sleep(600)")
    run = await run_notebook(lesson, cell_timeout_seconds=600, timeout_seconds=3)
    assert run.timed_out and run.failed_cell == 2
    assert "cell 3 (`time.sleep(600)`)" in run.problem
