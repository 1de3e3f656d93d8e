"""Variant rules: which names a source's ``parameters`` cell declares, how an instructor's
rule draws their values, and the values one student gets (derived from the student and the
assignment, so the same on every fetch and device; never chosen by the student)."""

from __future__ import annotations

import ast
import copy
import hashlib
import json
import random
from collections.abc import Mapping
from typing import Any

import nbformat

from coursehub.services.errors import Refusal

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
MAX_CHOICES = 1000


class VariantError(Refusal):
    """A parameters cell or a variant rule CourseHub cannot use, said for the instructor."""


def _tags(cell: Mapping[str, Any]) -> list[str]:
    tags = cell.get("metadata", {}).get("tags", [])
    return tags if isinstance(tags, list) else []


def parameters_cell(notebook: Mapping[str, Any]) -> tuple[int, str] | None:
    """(index, source) of the notebook's papermill ``parameters`` cell, or None."""
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") == "code" and PARAMETERS_TAG in _tags(cell):
            source = cell.get("source", "")
            return index, "".join(source) if isinstance(source, list) else source
    return None


def declared_parameters(notebook: Mapping[str, Any]) -> dict[str, Any] | None:
    """The names the ``parameters`` cell assigns and their defaults (None: no such cell);
    a cell that does not parse is refused with the line."""
    found = parameters_cell(notebook)
    if found is None:
        return None
    index, source = found
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise VariantError(
            f"The parameters cell (cell {index + 1}) does not parse: {error.msg} "
            f"on line {error.lineno}."
        ) from None
    names: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    try:
                        names[target.id] = ast.literal_eval(node.value) if node.value else None
                    except ValueError:
                        names[target.id] = None
    if not names:
        raise VariantError(f"The parameters cell (cell {index + 1}) assigns no names.")
    return names


def _number(value: Any, what: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise VariantError(f"{what} must be a number, not {json.dumps(value)}.")
    return value


def check_rule(rule: Any, declared: Mapping[str, Any]) -> dict[str, Any]:
    """``rule`` checked against the declared names: ``{"seed", "parameters": {name: {"range":
    [low, high], "step"?} | {"choices": [...]}}, "answers"?}`` or ``{"csv": {"column", "rows"}}``.
    Values that cannot be drawn are refused with the name."""
    if not isinstance(rule, dict):
        raise VariantError("A variant rule is a JSON object.")
    answers = rule.get("answers", [])
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise VariantError("answers must be a list of variable names.")
    if "csv" in rule:
        table = rule["csv"]
        if not isinstance(table, dict) or not isinstance(table.get("rows"), list):
            raise VariantError("csv must give the column naming the student and the rows.")
        column = table.get("column", "student")
        for number, row in enumerate(table["rows"], start=1):
            if not isinstance(row, dict) or column not in row:
                raise VariantError(f"CSV row {number} has no {column!r} value.")
            unknown = sorted(set(row) - set(declared) - {column})
            if unknown:
                raise VariantError(f"CSV column {unknown[0]!r} is not in the parameters cell.")
        return {"csv": {"column": column, "rows": table["rows"]}, "answers": answers}
    specs = rule.get("parameters")
    if not isinstance(specs, dict) or not specs:
        raise VariantError("A variant rule draws at least one parameter.")
    checked: dict[str, Any] = {}
    for name, spec in specs.items():
        if name not in declared:
            raise VariantError(f"{name!r} is not assigned in the parameters cell.")
        if not isinstance(spec, dict):
            raise VariantError(f"The rule for {name!r} must be a range or a list of choices.")
        if "choices" in spec:
            choices = spec["choices"]
            if not isinstance(choices, list) or not choices or len(choices) > MAX_CHOICES:
                raise VariantError(f"The choices for {name!r} must be 1 to {MAX_CHOICES} values.")
            checked[name] = {"choices": choices}
            continue
        bounds = spec.get("range")
        if not isinstance(bounds, list) or len(bounds) != 2:
            raise VariantError(f"The range for {name!r} must be [low, high].")
        low, high = (_number(v, f"The range of {name!r}") for v in bounds)
        if low > high:
            raise VariantError(f"The range for {name!r} is empty: {low} is above {high}.")
        entry: dict[str, Any] = {"range": [low, high]}
        if "step" in spec:
            step = _number(spec["step"], f"The step of {name!r}")
            if step <= 0:
                raise VariantError(f"The step of {name!r} must be above 0.")
            entry["step"] = step
        checked[name] = entry
    seed = rule.get("seed", "")
    if not isinstance(seed, str | int):
        raise VariantError("seed must be a string or a whole number.")
    return {"seed": str(seed), "parameters": checked, "answers": answers}


def _csv_value(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def derive(rule: Mapping[str, Any], assignment_id: int, account_id: int, username: str) -> dict:
    """The values of one student: their CSV row, or values drawn from a generator seeded by
    the rule's seed, the assignment and the student (the same every time)."""
    if "csv" in rule:
        column = rule["csv"]["column"]
        for row in rule["csv"]["rows"]:
            if str(row.get(column)) == username:
                return {k: _csv_value(v) for k, v in row.items() if k != column}
        raise VariantError(
            f"The variants CSV has no row for the enrolled student {username!r}.", status=409
        )
    key = f"{rule['seed']}|{assignment_id}|{account_id}".encode()
    drawn = random.Random(int.from_bytes(hashlib.sha256(key).digest(), "big"))  # noqa: S311 - reproducible values, not secrets
    values: dict[str, Any] = {}
    for name in sorted(rule["parameters"]):
        spec = rule["parameters"][name]
        if "choices" in spec:
            values[name] = copy.deepcopy(drawn.choice(spec["choices"]))
            continue
        low, high = spec["range"]
        step = spec.get("step")
        if step is None and isinstance(low, int) and isinstance(high, int):
            values[name] = drawn.randint(low, high)
        elif step is not None:
            value = low + step * drawn.randint(0, int((high - low) // step))
            values[name] = value if isinstance(value, int) else round(value, 10)
        else:
            values[name] = round(drawn.uniform(low, high), 6)
    return values


def inject(notebook: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``notebook`` with papermill's injected-parameters cell for ``values`` after
    its ``parameters`` cell (one already there is replaced); nothing runs."""
    node = nbformat.from_dict(copy.deepcopy(dict(notebook)))
    node.metadata.setdefault("papermill", {})
    untagged = [cell for cell in node.cells if "tags" not in cell.metadata]
    for cell in untagged:  # papermill reads every cell's tags
        cell.metadata["tags"] = []
    # Imported here, not at the top: papermill brings nbclient, jupyter_client and tornado,
    # which the grading worker (it imports this module) keeps out of its process otherwise.
    from papermill.parameterize import parameterize_notebook

    injected = parameterize_notebook(node, dict(values), kernel_name="python3", language="python")
    for cell in untagged:
        if not cell.metadata.get("tags"):
            del cell.metadata["tags"]
    for cell in injected.cells:
        if INJECTED_TAG in _tags(cell):
            cell.id = INJECTED_TAG  # the same copy on every fetch
            cell.metadata["editable"] = False
            cell.metadata["deletable"] = False
    return json.loads(nbformat.writes(injected))


def inject_into_submission(submitted: bytes, values: Mapping[str, Any]) -> bytes:
    """A submitted notebook with its injected-parameters cell put back to ``values`` (a student
    who edited or deleted it is graded on their own variant all the same)."""
    notebook = json.loads(submitted)
    notebook["cells"] = [c for c in notebook.get("cells", []) if INJECTED_TAG not in _tags(c)]
    return json.dumps(inject(notebook, values)).encode()
