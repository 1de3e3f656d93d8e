"""Run one notebook with papermill inside its sandbox: ``python -m
coursehub.services.notebook_runs.sandbox_runner``.

``papermill_runs.run_notebook`` starts this module under bubblewrap as an unprivileged uid in
the run's folder, which holds ``input.ipynb``, ``parameters.json`` and the run's data files.
It executes the notebook with papermill (its ``parameters`` cell and injected-parameters
cell, the nbclient engine, a kernel in the same folder) and writes the executed copy to
``executed.ipynb`` cell by cell (papermill saves as each cell starts and ends, so a run cut
off at its time limit still leaves its cells' outputs) and ``report.json`` at the end: how
it stopped and at which cell.

It imports nothing of CourseHub: only papermill and the standard library run in here
(papermill only when it runs).
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

INPUT, EXECUTED, PARAMETERS, REPORT = (
    "input.ipynb",
    "executed.ipynb",
    "parameters.json",
    "report.json",
)
KERNEL_NAME = "python3"


def main() -> None:
    # Imported here, not at the top: papermill_runs (in the grading worker) imports this
    # module for its file names, and papermill brings nbclient, jupyter_client and tornado.
    # jsonschema (under nbformat) builds a URI grammar at import time when rfc3987_syntax is
    # installed: a second of CPU for formats notebook validation never checks.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    workdir = Path.cwd()
    settings = json.loads((workdir / PARAMETERS).read_text())
    report: dict[str, object] = {"stop": "finished"}
    try:
        papermill.execute_notebook(
            str(workdir / INPUT),
            str(workdir / EXECUTED),
            parameters=settings["parameters"],
            kernel_name=KERNEL_NAME,
            language="python",
            execution_timeout=settings["cell_timeout_seconds"],
            start_timeout=settings["startup_seconds"],
            progress_bar=False,
            log_output=False,
            cwd=str(workdir),
            # Passed on to nbclient: every cell runs, errors or not (assignment checks).
            allow_errors=bool(settings.get("keep_going")),
        )
    except papermill.PapermillExecutionError as error:
        report = {"stop": "error", "cell": error.cell_index}
    except CellTimeoutError:
        report = {"stop": "cell_timeout"}
    except DeadKernelError:
        report = {"stop": "dead_kernel"}
    except Exception as error:  # the run's own fault (a bad parameters cell, say)
        report = {
            "stop": "failed",
            "problem": f"{type(error).__name__}: {error}",
            "traceback": traceback.format_exc()[-5000:],
        }
    (workdir / REPORT).write_text(json.dumps(report))


if __name__ == "__main__":
    main()
