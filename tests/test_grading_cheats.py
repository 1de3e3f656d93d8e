"""Known ways to cheat an autograder, each tried by a student who did not solve the exercise.

Every trick must leave the tests it targets at 0 and raise a flag for the instructor. The
first two are nbgrader's own cheat fixtures, graded against the source notebook they were
made from (``grading_files/cheat-source.ipynb``)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import nbformat
import nbgrader
import pytest

from coursehub.graders.assignment_notebooks import read_source, read_submission
from tests.test_grading_engine import (
    FILES,
    add_cell,
    answered,
    run,
    scores,
    squares_assignment,
)

NBGRADER_FILES = Path(nbgrader.__file__).parent / "tests" / "apps" / "files"
WRONG_SQUARES = "def squares(n):\n    return [0]"


@pytest.fixture(scope="module")
def squares():
    return squares_assignment()


def has_flag(result, words: str) -> bool:
    return any(words in flag for flag in result.flags)


@pytest.mark.parametrize(
    "fixture", ["submitted-cheat-attempt.ipynb", "submitted-cheat-attempt-alternative.ipynb"]
)
def test_nbgraders_own_cheat_attempts_fail(tmp_path, fixture):
    source = read_source((FILES / "cheat-source.ipynb").read_bytes())
    submission = read_submission((NBGRADER_FILES / fixture).read_bytes(), source)

    result = run(source, submission, tmp_path)

    assert scores(result)["bar"] == 0  # `a` was never defined; the traceback was hidden
    assert scores(result)["foo"] == 1
    assert has_flag(result, "hides or handles tracebacks")


def test_an_input_transformer_that_blanks_cells_fails_the_tests(squares, tmp_path):
    notebook = answered(squares, squares=WRONG_SQUARES)
    add_cell(notebook, "get_ipython().input_transformers_cleanup.append(lambda lines: [])")

    result = run(squares, notebook, tmp_path)

    assert result.score == 0 and result.outcome == "graded"
    assert has_flag(result, "never answered the judge")  # the serve cell was blanked too
    assert has_flag(result, "rewrites code before it runs")


def test_an_input_transformer_that_keeps_only_the_last_line_fails(squares, tmp_path):
    notebook = answered(squares, squares=WRONG_SQUARES)
    add_cell(notebook, "get_ipython().input_transformers_cleanup.append(lambda lines: lines[-1:])")

    result = run(squares, notebook, tmp_path)

    assert scores(result)["correct_squares"] == 0


def test_an_ast_transformer_that_removes_asserts_does_not_reach_the_tests(squares, tmp_path):
    notebook = answered(squares, squares=WRONG_SQUARES)
    add_cell(
        notebook,
        "import ast\n"
        "class NoAsserts(ast.NodeTransformer):\n"
        "    def visit_Assert(self, node):\n"
        "        return ast.Pass()\n"
        "get_ipython().ast_transformers.append(NoAsserts())",
    )

    result = run(squares, notebook, tmp_path)

    assert scores(result)["correct_squares"] == 0
    assert has_flag(result, "rewrites code before it runs")


def test_swallowing_errors_with_a_custom_exception_handler_fails(squares, tmp_path):
    notebook = answered(squares, squares=WRONG_SQUARES)
    add_cell(
        notebook,
        "def quiet(shell, etype, value, tb, tb_offset=None):\n"
        "    return None\n"
        "get_ipython().set_custom_exc((BaseException,), quiet)",
    )

    result = run(squares, notebook, tmp_path)

    assert scores(result)["correct_squares"] == 0
    assert has_flag(result, "hides or handles tracebacks")


def test_a_kernel_patched_to_report_success_is_caught(squares, tmp_path):
    notebook = answered(squares, squares=WRONG_SQUARES)
    add_cell(
        notebook,
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "original = InteractiveShell.run_cell\n"
        "def run_cell(self, *args, **kwargs):\n"
        "    result = original(self, *args, **kwargs)\n"
        "    result.error_in_exec = None\n"
        "    result.error_before_exec = None\n"
        "    return result\n"
        "InteractiveShell.run_cell = run_cell",
    )

    result = run(squares, notebook, tmp_path)

    assert scores(result)["correct_squares"] == 0
    assert has_flag(result, "reaches into the kernel")


def test_an_answer_whose_eq_is_always_true_fails_and_is_flagged(squares, tmp_path):
    notebook = answered(
        squares,
        squares="class Anything(list):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "def squares(n):\n"
        "    if n < 1:\n"
        "        raise ValueError('no')\n"
        "    return Anything()",
    )

    result = run(squares, notebook, tmp_path)

    assert scores(result)["correct_squares"] == 0
    assert has_flag(result, "Anything (not plain data) was compared with a value")


@pytest.mark.parametrize(
    "trick",
    [
        pytest.param("import builtins\nbuiltins.ValueError = Exception", id="builtins-module"),
        pytest.param("ValueError = Exception", id="global-name"),
    ],
)
def test_redefining_the_exception_a_test_expects_does_not_help(squares, tmp_path, trick):
    # Every exception would count as the ValueError the test wants squares(0) to raise.
    notebook = answered(squares, squares="def squares(n):\n    raise NotImplementedError()")
    add_cell(notebook, trick)

    result = run(squares, notebook, tmp_path)

    assert scores(result)["squares_invalid_input"] == 0
    assert result.flags


def test_printing_fake_results_earns_nothing(squares, tmp_path):
    # Changed with the judge: there are no proof lines any more to imitate (verdicts are
    # decided outside the kernel), so printing them is simply output.
    fake = json.dumps({"flags": [], "value": None})
    notebook = answered(squares, squares=WRONG_SQUARES)
    add_cell(notebook, f"print('Success! All tests passed.')\nprint('{'0' * 32} ok {fake}')")

    result = run(squares, notebook, tmp_path)

    assert scores(result)["correct_squares"] == 0


def test_exiting_the_kernel_ends_grading_and_later_tests_get_nothing(squares, tmp_path):
    notebook = answered(squares, mean="import os\nos._exit(0)")

    result = run(squares, notebook, tmp_path)

    assert result.outcome == "crashed"
    assert "Python stopped" in result.message
    assert scores(result)["correct_squares"] == 2  # ran before the exit
    assert scores(result)["correct_mean"] == 0


PROBE = """
import json, os, socket
seen = {{"cwd": sorted(os.listdir("."))}}
def attempt(name, action):
    try:
        seen[name] = action()
    except Exception as error:
        seen[name] = "refused: " + type(error).__name__
attempt("shadow", lambda: open("/etc/shadow").read())
attempt("source", lambda: open({source!r}).read())
attempt("other_job", lambda: open({other!r}).read())
attempt("jobs", lambda: os.listdir({jobs!r}))
attempt("runner_environ", lambda: open(f"/proc/{{os.getppid()}}/environ").read())
attempt("runner_stdin", lambda: open(f"/proc/{{os.getppid()}}/fd/0").read())
attempt("write_outside", lambda: open("/var/tmp/escape", "w").write("x"))
def connect(host, port):
    socket.create_connection((host, port), timeout=2).close()
    return "OPEN"
attempt("loopback", lambda: connect("127.0.0.1", {port}))
attempt("internet", lambda: connect("1.1.1.1", 53))
print("PROBE " + json.dumps(seen))
"""


def test_the_sandbox_shows_only_the_job_folder_and_has_no_network(squares, tmp_path):
    other = tmp_path / "job-of-someone-else"
    other.mkdir()
    (other / "answers.txt").write_text("someone else's answers")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    probe = PROBE.format(
        source=str(FILES / "squares-source.ipynb"),
        other=str(other / "answers.txt"),
        jobs=str(tmp_path),
        port=port,
    )
    try:
        result = run(squares, add_cell(answered(squares), probe), tmp_path)
    finally:
        listener.close()

    seen = json.loads(printed(result).split("PROBE ", 1)[1].splitlines()[0])
    assert seen["cwd"] == ["submission.ipynb"]  # no tests, no other files
    for name in ("shadow", "source", "other_job", "runner_environ", "runner_stdin"):
        assert seen[name].startswith("refused"), name
    assert seen["jobs"] == [] or seen["jobs"] == [f"job-{result_uid(tmp_path)}"]
    assert seen["write_outside"].startswith("refused")
    assert seen["loopback"].startswith("refused") and seen["internet"].startswith("refused")
    assert result.outcome == "graded" and result.score == 5


def printed(result) -> str:
    """Everything the notebook printed, as the student sees it."""
    return "".join(
        "".join(output.get("text", ""))
        for cell in result.feedback_notebook["cells"]
        for output in cell.get("outputs", [])
        if output["output_type"] == "stream"
    )


def result_uid(tmp_path: Path) -> str:
    return next(p.name for p in tmp_path.iterdir() if p.name.startswith("job-3"))[4:]


def test_feedback_of_a_probe_is_a_valid_notebook(squares, tmp_path):
    result = run(squares, answered(squares), tmp_path)

    nbformat.validate(nbformat.from_dict(result.feedback_notebook))


# --- Cheats against the judge (issue 12) -------------------------------------------------
# Test cells run in the judge, in the runner's interpreter; the kernel only answers its
# questions. Each cheat below scored full marks against the executor that ran in the kernel.

RIGHT_BUT = "def squares(n):\n    if n < 1:\n        raise ValueError('no')\n"


def test_a_replaced_serve_loop_gets_nothing_and_is_flagged(squares, tmp_path):
    notebook = answered(squares, squares=WRONG_SQUARES)
    add_cell(notebook, "__coursehub_serve__ = lambda address: print('Success!')")

    result = run(squares, notebook, tmp_path)

    assert scores(result)["correct_squares"] == 0
    assert scores(result)["squares_invalid_input"] == 0
    assert has_flag(result, "never answered the judge")
    assert has_flag(result, "names the grader")


def test_a_forged_serve_loop_that_answers_yes_to_everything_gets_nothing(squares, tmp_path):
    # It connects to the judge and answers every question with True.
    forged = (
        "import json, socket, struct\n"
        "def __coursehub_serve__(address):\n"
        "    s = socket.socket(socket.AF_UNIX)\n"
        "    s.connect('\\0' + address)\n"
        "    while True:\n"
        "        head = s.recv(4)\n"
        "        if len(head) < 4:\n"
        "            return\n"
        "        body = b''\n"
        "        while len(body) < struct.unpack('!I', head)[0]:\n"
        "            body += s.recv(65536)\n"
        "        if json.loads(body).get('op') == 'done':\n"
        "            return\n"
        "        reply = json.dumps({'value': True}).encode()\n"
        "        s.sendall(struct.pack('!I', len(reply)) + reply)\n"
    )
    notebook = add_cell(answered(squares, squares=WRONG_SQUARES, mean="mean = None"), forged)

    result = run(squares, notebook, tmp_path)

    assert scores(result)["correct_squares"] == 0
    assert scores(result)["correct_mean"] == 0
    assert result.flags


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param("from unittest import mock\n" + RIGHT_BUT + "    return mock.ANY",
                     id="mock-ANY"),
        pytest.param(
            "import os\n"
            "class Same(list):\n"
            "    def __eq__(self, other):\n"
            "        return True\n"
            "    __hash__ = None\n"
            "Same.__eq__.__code__ = Same.__eq__.__code__.replace(co_filename=os.__file__)\n"
            + RIGHT_BUT + "    return Same()",
            id="forged-co_filename",
        ),
    ],
)  # fmt: skip
def test_always_equal_answers_from_libraries_or_forged_files_fail(squares, tmp_path, answer):
    result = run(squares, answered(squares, squares=answer), tmp_path)

    assert scores(result)["correct_squares"] == 0
    assert has_flag(result, "(not plain data) was compared with a value")
    student = json.dumps(result.student_json())
    assert "plain data" not in student and "flags" not in student  # staff only


def test_arguments_a_hidden_test_passes_are_flagged_when_printed_and_never_shown(squares, tmp_path):
    notebook = answered(
        squares,
        squares="seen = []\n"
        "def squares(n):\n"
        "    seen.append(n)\n"
        "    if n < 1:\n"
        "        raise ValueError('no')\n"
        "    return [i ** 2 for i in range(1, n + 1)]",
    )
    notebook.cells.append(nbformat.v4.new_code_cell("print('spied:', seen)"))

    result = run(squares, notebook, tmp_path)

    assert result.score == 5  # an honest answer otherwise
    assert has_flag(result, "argument spying")
    assert "spied" not in printed(result)


def test_rebinding_a_name_the_instructor_imported_does_not_reach_the_test(squares, tmp_path):
    # correct_mean's hidden part checks with math.isclose; the notebook rebinds math.
    notebook = answered(
        squares,
        mean="class FakeMath:\n"
        "    def isclose(self, a, b):\n"
        "        return True\n"
        "math = FakeMath()\n"
        "def mean(values):\n"
        "    return 2",
    )

    result = run(squares, notebook, tmp_path)

    assert scores(result)["correct_mean"] == 0
    assert has_flag(result, "rebound math, which the instructor imported")


def test_a_fork_bomb_that_also_solves_gets_its_honest_score(squares, tmp_path):
    bomb = (
        "import os, time\n"
        "started = 0\n"
        "while True:\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except OSError:\n"
        "        break\n"
        "    if pid == 0:\n"
        "        time.sleep(600)\n"
        "        os._exit(0)\n"
        "    started += 1\n"
        "print('started', started)"
    )
    notebook = add_cell(answered(squares), bomb, at=2)

    result = run(squares, notebook, tmp_path, cell_timeout_s=20)

    assert result.outcome == "graded", result.message
    assert result.score == 5
    assert has_flag(result, "process limit")


SOCKET_PROBE = """
import json, os, socket
found = {}
for path in ("/var/run/postgresql/.s.PGSQL.5432", "/run/postgresql/.s.PGSQL.5432",
             "/tmp/.s.PGSQL.5432", "/var/run/redis/redis-server.sock", "/run/redis/redis.sock"):
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(2)
        s.connect(path)
        found[path] = "OPEN"
    except OSError as error:
        found[path] = type(error).__name__
# (not /root: an interpreter under /root/.pyenv is shown there, alone, by the allow-list)
for path in ("/home", "/srv", "/etc/postgresql", "/var/lib/postgresql", "/run", "/var/run"):
    try:
        found[path] = "LISTED " + str(len(os.listdir(path)))
    except OSError as error:
        found[path] = type(error).__name__
print("PROBE " + json.dumps(found))
"""


def test_host_sockets_and_folders_are_out_of_reach(squares, tmp_path):
    # The allow-list sandbox (hub/sandbox.py) with the job's network namespace.
    result = run(squares, add_cell(answered(squares), SOCKET_PROBE), tmp_path)

    seen = json.loads(printed(result).split("PROBE ", 1)[1].splitlines()[0])
    assert "OPEN" not in seen.values()
    assert not [k for k, v in seen.items() if str(v).startswith("LISTED")], seen
    assert result.score == 5


def test_a_job_cannot_fill_the_disk(squares, tmp_path):
    # The job folder is a tmpfs of GradingLimits.disk_mb (256 MiB): ENOSPC past it.
    fill = (
        "written = 0\n"
        "try:\n"
        "    with open('fill.bin', 'wb') as out:\n"
        "        for _ in range(400):\n"
        "            out.write(b'x' * (1 << 20))\n"
        "            written += 1\n"
        "except OSError:\n"
        "    pass\n"
        "import os\n"
        "os.remove('fill.bin') if os.path.exists('fill.bin') else None\n"
        "print('WROTE', written)"
    )
    result = run(squares, add_cell(answered(squares), fill), tmp_path)

    assert int(printed(result).split("WROTE ", 1)[1].split()[0]) <= 256
