"""Calculated quiz questions: a FILL_IN question whose values and right answer a small
generator notebook computes, so that each attempt gets its own.

The generator notebook (the question's ``generator`` field: nbformat JSON, or plain Python
source, which becomes a one-cell notebook) is run with papermill in the grading sandbox
(``coursehub.services.notebook_runs.papermill_runs.run_notebook``) and follows two rules:

- a code cell tagged ``parameters`` defines ``seed = 0``; CourseHub injects each variant's
  seed after it (papermill's injected-parameters cell). Draw every value from it, e.g.
  ``rng = random.Random(seed)``, so a seed always gives the same variant;
- one code cell tagged ``answer`` records the variant: its last expression is a dict, or it
  prints one as JSON on its last line, ``{"values": {"a": 3, "b": 4}, "answer": 5}``.
  ``values`` fill the prompt's ``{a}``, ``{b}`` fields; ``answer`` is a number (scored with
  the question's ``abs_tol`` / ``rel_tol``, as numeric answers are) or a text (accepted
  without regard to case).

A question with a generator is run once when it is saved: one that raises, runs past its
limits or records no answer is refused, naming the cell. Variants are then made in the
background (``make_variants``, the ``make_quiz_variants`` job), many seeds per sandbox run
(each seed in a fresh namespace), and each starting attempt takes a free one for itself
(``variant_for``); with none free it generates one at once, and if that fails it reuses a
variant already made, so starting an attempt never fails on a generator.
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import nbformat
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.models import Course, Enrollment, QuizQuestion, QuizQuestionVariant
from coursehub.services.notebook_runs.papermill_runs import NotebookRun, run_notebook
from coursehub.services.quizzes.quiz_errors import QuizError

log = logging.getLogger("coursehub.quizzes")

PARAMETERS_TAG = "parameters"
ANSWER_TAG = "answer"
MAX_GENERATOR = 100_000
SEEDS_PER_RUN = 400
MIN_POOL = 20
MAX_POOL = 1_000
CHECK_SECONDS = 60
LIVE_SECONDS = 20
BATCH_SECONDS = 120
MAKE_VARIANTS_TASK = "make_quiz_variants"
_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class Variant:
    seed: int
    values: dict[str, Any]
    answer: Any


# -- reading a generator ------------------------------------------------------------------------


def _tags(cell: Any) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def read_generator(raw: Any) -> dict[str, Any]:
    """The generator as nbformat JSON, or QuizError saying what it lacks."""
    if isinstance(raw, str) and not raw.lstrip().startswith("{"):
        if len(raw) > MAX_GENERATOR:
            raise QuizError(f"The generator is longer than {MAX_GENERATOR} characters.")
        notebook = nbformat.v4.new_notebook()
        params = nbformat.v4.new_code_cell("seed = 0", metadata={"tags": [PARAMETERS_TAG]})
        body = nbformat.v4.new_code_cell(raw, metadata={"tags": [ANSWER_TAG]})
        notebook.cells = [params, body]
    else:
        try:
            text_form = raw if isinstance(raw, str) else json.dumps(raw)
            if len(text_form) > MAX_GENERATOR:
                raise QuizError(f"The generator is longer than {MAX_GENERATOR} characters.")
            notebook = nbformat.reads(text_form, as_version=4)
        except QuizError:
            raise
        except Exception as error:
            raise QuizError(
                f"The generator is not a notebook nbformat can read ({error})."
            ) from None
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    if not any(PARAMETERS_TAG in _tags(cell) for cell in code):
        raise QuizError(
            "The generator needs a code cell tagged 'parameters' that sets seed = 0; "
            "CourseHub injects each attempt's seed after it."
        )
    answers = [cell for cell in code if ANSWER_TAG in _tags(cell)]
    if len(answers) != 1:
        raise QuizError(
            "Tag exactly one code cell of the generator 'answer': the one whose last "
            'expression is {"values": {...}, "answer": ...}.'
        )
    for number, cell in enumerate(notebook.cells):
        cell.setdefault("id", f"cell-{number + 1}")
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    stored = json.loads(nbformat.writes(notebook))
    for cell in stored["cells"]:  # one string per source, as the batch notebook needs
        if isinstance(cell["source"], list):
            cell["source"] = "".join(cell["source"])
    return stored


def generator_hash(generator: dict[str, Any]) -> str:
    sources = [(c["cell_type"], c["source"], _tags(c)) for c in generator["cells"]]
    return hashlib.sha256(json.dumps(sources).encode()).hexdigest()


def is_calculated(spec: dict[str, Any]) -> bool:
    return "generator" in spec


# -- what a run recorded ------------------------------------------------------------------------


def _record(found: Any, where: str) -> tuple[dict[str, Any], Any]:
    if not isinstance(found, dict) or "answer" not in found:
        raise QuizError(
            f'{where} must record {{"values": {{...}}, "answer": ...}} as its last expression '
            "or last printed line."
        )
    values = found.get("values") or {}
    answer = found["answer"]
    if not isinstance(values, dict):
        raise QuizError(f"{where}: values must be a dict of names and values.")
    if isinstance(answer, bool) or not isinstance(answer, int | float | str):
        raise QuizError(f"{where}: the answer must be a number or a text.")
    return {str(k): v for k, v in values.items()}, answer


def _parse(text_value: str) -> Any:
    try:
        return json.loads(text_value)
    except ValueError:
        try:
            return ast.literal_eval(text_value)
        except (ValueError, SyntaxError):
            return None


def recorded(cell: Any) -> Any:
    """What the answer cell recorded in its outputs: JSON data, its last expression's value,
    or its printed last line."""
    found = None
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        if "application/json" in data:
            found = data["application/json"]
        elif "text/plain" in data:
            found = _parse(str(data["text/plain"]))
        elif output.get("output_type") == "stream" and output.get("name") == "stdout":
            lines = [line for line in str(output.get("text", "")).splitlines() if line.strip()]
            if lines:
                found = _parse(lines[-1])
    return found


PAPERMILL_TAGS = ("injected-parameters", "papermill-error-cell-tag")


def _cell_name(cells: Sequence[Any], index: int | None) -> str:
    """``cells[index]`` of an executed copy named as its author knows it (papermill's own
    cells uncounted)."""
    if index is None or not 0 <= index < len(cells):
        return "the generator"
    number = 1 + sum(1 for cell in cells[:index] if not set(PAPERMILL_TAGS) & set(_tags(cell)))
    source = cells[index]["source"]
    source = "".join(source) if isinstance(source, list) else source
    first = next((line for line in source.splitlines() if line.strip()), "")
    return f"cell {number} ({first.strip()[:60]!r})"


def _failing(cells: Sequence[Any]) -> int | None:
    """The executed copy's cell with an error output (the notebook stops at the first)."""
    for index, cell in enumerate(cells):
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return index
    return None


def _refusal(run: NotebookRun) -> QuizError:
    cells = run.notebook.cells
    index = _failing(cells)
    if run.timed_out:
        running = index if index is not None else _first_without_output(cells)
        return QuizError(
            f"The generator ran past its time limit in {_cell_name(cells, running)}; "
            "make it faster."
        )
    if index is None:
        return QuizError(f"The generator did not run: {run.problem or 'its kernel stopped'}.")
    error = next(o for o in cells[index]["outputs"] if o.get("output_type") == "error")
    said = f"{error.get('ename', 'an error')}: {str(error.get('evalue', ''))[:300]}"
    return QuizError(f"The generator raised {said} in {_cell_name(cells, index)}.")


def _first_without_output(cells: Sequence[Any]) -> int | None:
    for index, cell in enumerate(cells):
        if cell.get("cell_type") == "code" and cell.get("execution_count") is None:
            return index
    return None


async def check_generator(spec: dict[str, Any], seed: int = 1) -> Variant:
    """Run the generator once with ``seed``; its variant, or QuizError naming the cell that
    failed. (Sandbox faults are not the author's: they propagate.)"""
    generator = spec["generator"]
    run = await run_notebook(
        nbformat.from_dict(generator),
        parameters={"seed": seed},
        timeout_seconds=CHECK_SECONDS,
        cell_timeout_seconds=CHECK_SECONDS,
    )
    if not run.ok:
        raise _refusal(run)
    cells = run.notebook.cells
    index = next(i for i, c in enumerate(cells) if c.cell_type == "code" and ANSWER_TAG in _tags(c))
    values, answer = _record(recorded(cells[index]), _cell_name(cells, index).capitalize())
    return Variant(seed, values, answer)


# -- many variants per run ----------------------------------------------------------------------

_BATCH = """\
import ast as _ast, contextlib as _cl, io as _io, json as _json
_cells = {cells}
_made = []
for _seed in seeds:
    _ns = {{"__name__": "__main__"}}
    for _src, _kind in _cells:
        _tree = _ast.parse(get_ipython().transform_cell(_src))
        _last = None
        if _kind == "answer" and _tree.body and isinstance(_tree.body[-1], _ast.Expr):
            _last = _ast.Expression(_tree.body.pop().value)
        _buf = _io.StringIO()
        with _cl.redirect_stdout(_buf):
            exec(compile(_tree, "<generator>", "exec"), _ns)
            _value = eval(compile(_last, "<generator>", "eval"), _ns) if _last else None
        if _kind == "parameters":
            _ns["seed"] = _seed
        if _kind == "answer":
            _made.append({{"seed": _seed, "value": _value, "stdout": _buf.getvalue()}})
print(_json.dumps(_made, default=lambda o: o.item() if hasattr(o, "item") else str(o)))
"""


def batch_notebook(generator: dict[str, Any]) -> nbformat.NotebookNode:
    """One notebook that makes a variant for each seed of its ``seeds`` parameter, running
    the generator's code cells in a fresh namespace per seed."""
    cells = []
    for cell in generator["cells"]:
        if cell["cell_type"] != "code":
            continue
        tags = _tags(cell)
        kind = (
            PARAMETERS_TAG if PARAMETERS_TAG in tags else ANSWER_TAG if ANSWER_TAG in tags else ""
        )
        cells.append((cell["source"], kind))
    notebook = nbformat.v4.new_notebook(metadata=generator.get("metadata", {}))
    notebook.cells = [
        nbformat.v4.new_code_cell("seeds = []", metadata={"tags": [PARAMETERS_TAG]}),
        nbformat.v4.new_code_cell(_BATCH.format(cells=repr(cells))),
    ]
    return notebook


def _batch_variants(run: NotebookRun) -> list[Variant]:
    made = recorded(run.notebook.cells[-1])
    variants = []
    for item in made if isinstance(made, list) else []:
        found = item.get("value")
        if not isinstance(found, dict):
            lines = [line for line in str(item.get("stdout", "")).splitlines() if line.strip()]
            found = _parse(lines[-1]) if lines else None
        try:
            values, answer = _record(found, "The answer cell")
        except QuizError:
            continue
        variants.append(Variant(int(item["seed"]), values, answer))
    return variants


async def generate(
    generator: dict[str, Any], seeds: Sequence[int], *, background: bool = False
) -> list[Variant]:
    """Variants for ``seeds``, ``SEEDS_PER_RUN`` per sandbox run; seeds whose run failed are
    left out (logged). ``background``: the pool's job, not an attempt waiting for it."""
    variants: list[Variant] = []
    notebook = batch_notebook(generator)
    for start in range(0, len(seeds), SEEDS_PER_RUN):
        chunk = list(seeds[start : start + SEEDS_PER_RUN])
        run = await run_notebook(
            notebook,
            parameters={"seeds": chunk},
            timeout_seconds=BATCH_SECONDS,
            cell_timeout_seconds=BATCH_SECONDS,
            background=background,
        )
        if not run.ok:
            log.warning("A generator batch of %d seeds failed: %s", len(chunk), run.problem)
            continue
        variants.extend(_batch_variants(run))
    return variants


def new_seeds(count: int) -> list[int]:
    return [secrets.randbelow(2**31 - 1) + 1 for _ in range(count)]


# -- the pool of variants -----------------------------------------------------------------------


def store(session: AsyncSession, question: QuizQuestion, variant: Variant) -> QuizQuestionVariant:
    row = QuizQuestionVariant(
        question_id=question.id,
        generator_hash=question.spec["generator_hash"],
        seed=variant.seed,
        values=variant.values,
        answer=variant.answer,
    )
    session.add(row)
    return row


async def free_count(session: AsyncSession, question: QuizQuestion) -> int:
    return int(
        await session.scalar(
            select(func.count(QuizQuestionVariant.id)).where(
                QuizQuestionVariant.question_id == question.id,
                QuizQuestionVariant.generator_hash == question.spec["generator_hash"],
                QuizQuestionVariant.answer_id.is_(None),
            )
        )
        or 0
    )


async def pool_target(session: AsyncSession, course_id: int) -> int:
    """Free variants to keep ready: one per enrolled student and some more."""
    students = await session.scalar(
        select(func.count(Enrollment.id)).where(Enrollment.course_id == course_id)
    )
    return max(MIN_POOL, min(MAX_POOL, int(students or 0) + MIN_POOL))


async def make_variants(
    session: AsyncSession, question: QuizQuestion, count: int | None = None
) -> int:
    """Top up the question's free variants (``count`` more, or back to its course's target
    once half of them are taken); how many were made. One filler per question at a time
    (the others return at once)."""
    if not is_calculated(question.spec):
        return 0
    got = await session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:a, :b)"), {"a": 22_003, "b": question.id}
    )
    if not got:
        return 0
    if count is None:
        # Topped up in batches: one sandbox run makes many variants about as fast as one.
        target = await pool_target(session, question.course_id)
        free = await free_count(session, question)
        count = target - free if free <= target // 2 else 0
    if count <= 0:
        return 0
    made = await generate(question.spec["generator"], new_seeds(count), background=True)
    known = set(
        await session.scalars(
            select(QuizQuestionVariant.seed).where(
                QuizQuestionVariant.question_id == question.id,
                QuizQuestionVariant.generator_hash == question.spec["generator_hash"],
            )
        )
    )
    for variant in made:
        if variant.seed not in known:
            known.add(variant.seed)
            store(session, question, variant)
    await session.flush()
    return len(made)


async def variant_for(session: AsyncSession, question: QuizQuestion) -> QuizQuestionVariant:
    """A variant for a starting attempt: a free one (the caller sets its ``answer_id``), else
    one generated now, else one already taken by another attempt; QuizError (409) only when
    the question has no variant at all and its generator fails now."""
    spec = question.spec
    free = await session.scalar(
        select(QuizQuestionVariant)
        .where(
            QuizQuestionVariant.question_id == question.id,
            QuizQuestionVariant.generator_hash == spec["generator_hash"],
            QuizQuestionVariant.answer_id.is_(None),
        )
        .order_by(QuizQuestionVariant.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if free is not None:
        return free
    try:
        made = await generate(spec["generator"], new_seeds(1))
    except Exception as error:  # a sandbox fault: fall back, never fail the start
        log.warning("Generating a variant of question %s now failed: %s", question.id, error)
        made = []
    if made:
        row = store(session, question, made[0])
        await session.flush()
        return row
    used = await session.scalar(
        select(QuizQuestionVariant)
        .where(
            QuizQuestionVariant.question_id == question.id,
            QuizQuestionVariant.generator_hash == spec["generator_hash"],
        )
        .order_by(func.random())
        .limit(1)
    )
    if used is None:
        raise QuizError(
            "This quiz cannot start: one of its calculated questions could not make its "
            "values. Tell your instructor.",
            409,
        )
    return used


def variant_copy(copy: dict[str, Any], variant: QuizQuestionVariant) -> dict[str, Any]:
    """An attempt's copy of a calculated question with its variant: the prompt's fields
    filled and the variant's answer as the one accepted answer."""
    values = variant.values

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(values[name]) if name in values else match.group(0)

    spec = {key: value for key, value in copy["spec"].items() if key != "generator"}
    answer = variant.answer
    if isinstance(answer, int | float):
        accepted = {
            "mode": "numeric",
            "value": float(answer),
            "abs_tol": spec.get("abs_tol", 0),
            "rel_tol": spec.get("rel_tol", 0),
        }
    else:
        accepted = {"mode": "case_insensitive", "value": str(answer)}
    spec.update(
        answers=[accepted],
        display=str(answer),
        variant={"seed": variant.seed, "values": values},
    )
    return {**copy, "prompt": _FIELD.sub(fill, copy["prompt"]), "spec": spec}


async def questions_to_fill(session: AsyncSession, course: Course) -> list[int]:
    """The course's calculated questions (ids), for topping up after a publish."""
    rows = await session.scalars(
        select(QuizQuestion.id).where(
            QuizQuestion.course_id == course.id, QuizQuestion.spec.has_key("generator")
        )
    )
    return list(rows)
