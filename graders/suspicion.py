"""Reasons a submission's own code looks like it tampers with grading, for human review.

Flags never change a score; they tell the instructor where to look. Only the cells the
student writes are read (answers and cells they added), never the instructor's.
"""

from __future__ import annotations

import re

import nbformat

from coursehub.graders.assignment_notebooks import cell_kind

# (pattern, reason) - what honest answers to programming exercises do not need.
SUSPICIOUS = (
    (r"input_transformers|ast_transformers|register_transformer", "rewrites code before it runs"),
    (r"showtraceback|showsyntaxerror|set_custom_exc|CustomTB", "hides or handles tracebacks"),
    (r"\bsys\.(settrace|setprofile|addaudithook)|threading\.settrace", "traces execution"),
    (r"\bos\._exit\b|\bos\.kill\b|\bsignal\.", "kills or signals processes"),
    (r"def\s+__(eq|ne)__|__(eq|ne)__\s*=", "defines its own equality"),
    (r"\b__builtins__\b|\bimport\s+builtins\b|\bbuiltins\.", "changes builtins"),
    (r"\bget_ipython\b|\bIPython\b|\bipykernel\b", "reaches into the kernel"),
    (r"coursehub", "names the grader"),
    (r"\b(exec|eval|compile)\s*\(", "runs code built from strings"),
    (r"\bctypes\b|\bgc\.get_(referrers|referents|objects)|sys\._getframe|\bf_back\b",
     "inspects the interpreter's internals"),
    (r"/proc/|\bsubprocess\b|\bos\.system\b", "looks at or starts other processes"),
)  # fmt: skip


def suspicious_code(notebook: nbformat.NotebookNode, released: nbformat.NotebookNode) -> list[str]:
    """Flags for the code cells of ``notebook`` that are not as ``released`` has them."""
    instructors = {cell.source for cell in released.cells}
    flags = []
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.cell_type != "code" or cell_kind(cell) in ("autograded_test", "locked"):
            continue
        if cell.source in instructors:
            continue
        for pattern, reason in SUSPICIOUS:
            if re.search(pattern, cell.source):
                flags.append(f"Cell {number}: the student's code {reason}.")
    return flags
