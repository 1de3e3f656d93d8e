"""The grading kernel: ipykernel plus a test executor installed before any student code runs.

``python -m coursehub.graders.grading_kernel -f <connection file>`` is the kernel the runner
(``coursehub.graders.runner``) starts inside the sandbox. Student cells go through IPython as
usual. Test cells do not: the runner sends ``__coursehub_run_test__("<payload>")``, and the
executor installed here compiles the instructor's code itself, so IPython's input and AST
transformers, ``showtraceback``, custom exception handlers and ``run_cell`` (all of which
student code can replace) never see or handle the test. While a test runs, the builtins are a
copy taken at start-up, globals named like builtin exceptions are set aside, trace and
profile hooks are off, and every ``==``/``!=`` in the test
checks that neither side's class has an ``__eq__`` written by the student.

Only when the test's last statement has run does the executor print the run's secret nonce
with ``ok``; without that line the grader gives 0 whatever the reply says. The nonce is in
the payload only, so a generic trick (blanking cells, faking output) cannot produce it.

What this does not stop: the tests have to run in the process that holds the student's
objects, so code written against *this* executor (replacing ``__coursehub_run_test__``,
decoding a payload it intercepted, patching ipykernel's replies) can still forge a pass.
Such code has to name the kernel's or the grader's internals, which
``coursehub.graders.suspicion`` flags for a person to look at; the sandbox still bounds
what it can reach, and it cannot learn a hidden test before that test runs.
"""

from __future__ import annotations

import ast
import base64
import builtins
import json
import os
import sys
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

TEST_FILENAME = "<coursehub-test>"
GUARD_NAME = "__coursehub_eq__"
ENTRY_NAME = "__coursehub_run_test__"


class _EqualityGuard(ast.NodeTransformer):
    """``a == b`` -> ``__coursehub_eq__(a, b, "==")`` (chains are split left to right)."""

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
            return node
        parts: list[ast.expr] = []
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.Eq | ast.NotEq):
                symbol = "==" if isinstance(op, ast.Eq) else "!="
                call = ast.Call(
                    ast.Name(GUARD_NAME, ast.Load()),
                    [left, right, ast.Constant(symbol)],
                    [],
                )
                parts.append(call)
            else:
                parts.append(ast.Compare(left, [op], [right]))
            left = right
        result = parts[0] if len(parts) == 1 else ast.BoolOp(ast.And(), parts)
        return ast.copy_location(result, node)


def _trusted_roots() -> tuple[str, ...]:
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.__file__)}
    return tuple(os.path.realpath(root) + os.sep for root in roots)


def _student_equality(value: object, trusted: tuple[str, ...]) -> str | None:
    """The name of a class of ``value`` whose ``__eq__``/``__ne__`` is student code."""
    for cls in type(value).__mro__:
        for name in ("__eq__", "__ne__"):
            method = cls.__dict__.get(name)
            code = getattr(getattr(method, "__func__", method), "__code__", None)
            if code is not None and not _library_code(cls, code.co_filename, trusted):
                return cls.__qualname__
    return None


def _library_code(cls: type, filename: str, trusted: tuple[str, ...]) -> bool:
    """Written in an installed file, or generated (dataclasses, attrs: ``<string>``) for a
    class that really lives in an installed module."""
    if os.path.realpath(filename).startswith(trusted):
        return True
    module = sys.modules.get(cls.__module__)
    module_file = os.path.realpath(getattr(module, "__file__", None) or "/")
    return (
        filename.startswith("<")
        and cls.__module__ != "__main__"
        and module_file.startswith(trusted)
        and getattr(module, cls.__qualname__, None) is cls
    )


def install(shell: Any, *, out: Any = None) -> None:
    """Put the test executor into ``shell``'s namespace (called before any cell runs)."""
    out = out or sys.stdout
    pristine = dict(vars(builtins))
    # A global named like a builtin exception (``ValueError = Exception``) would change what a
    # test's ``except``/``raises`` catches; no exercise asks students to redefine those.
    exceptions = [
        n for n, v in pristine.items() if isinstance(v, type) and issubclass(v, BaseException)
    ]
    trusted = _trusted_roots()
    settrace, setprofile = sys.settrace, sys.setprofile
    exec_, compile_, b64decode, loads, dumps = (
        exec,
        compile,
        base64.b64decode,
        json.loads,
        json.dumps,
    )
    flags: list[str] = []

    def guard(left: object, right: object, symbol: str) -> bool:
        for side in (left, right):
            name = _student_equality(side, trusted)
            if name is not None:
                flags.append(f"eq-override:{name}")
                raise AssertionError(
                    f"The answer is a {name}, whose == is written in the notebook; such "
                    "answers are not accepted."
                )
        return bool(left == right) if symbol == "==" else bool(left != right)

    def run_test(payload: str) -> None:
        plan = loads(b64decode(payload))
        nonce, hidden = plan["nonce"], set(plan["hidden_lines"])
        settrace(None)
        setprofile(None)
        threading.settrace(None)  # type: ignore[arg-type]
        flags.clear()
        namespace = shell.user_ns
        saved = namespace.get("__builtins__")
        namespace["__builtins__"] = dict(pristine)
        namespace[GUARD_NAME] = guard
        shadowing = {
            name: namespace.pop(name)
            for name in [n for n in exceptions if n in namespace]
            if namespace[name] is not pristine[name]
        }
        flags.extend(f"shadowed-exception:{name}" for name in shadowing)
        value: object = None
        try:
            tree = _EqualityGuard().visit(ast.parse(plan["code"], TEST_FILENAME))
            last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
            exec_(compile_(ast.fix_missing_locations(tree), TEST_FILENAME, "exec"), namespace)
            if last is not None:
                expression = ast.fix_missing_locations(ast.Expression(last.value))
                value = eval(compile_(expression, TEST_FILENAME, "eval"), namespace)  # noqa: S307
            if namespace.get(GUARD_NAME) is not guard:
                flags.append("guard-replaced")
                raise AssertionError("The test's checks were replaced while it ran.")
        except BaseException as error:
            in_hidden = _failing_line(error.__traceback__) in hidden
            out.write(f"\n{nonce} fail {dumps({'flags': flags, 'hidden': in_hidden})}\n")
            out.flush()
            if in_hidden:
                raise AssertionError("A hidden test failed.") from None
            raise
        finally:
            namespace["__builtins__"] = saved if saved is not None else builtins
            namespace.pop(GUARD_NAME, None)
            namespace.update(shadowing)
        shown = None if value is None else repr(value)[:200]
        out.write(f"\n{nonce} ok {dumps({'flags': flags, 'value': shown})}\n")
        out.flush()

    shell.user_ns[ENTRY_NAME] = run_test
    shell.user_ns_hidden[ENTRY_NAME] = run_test


def _failing_line(tb: TracebackType | None) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == TEST_FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def main(argv: list[str] | None = None, prepare: Callable[[Any], None] = install) -> None:
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize(sys.argv[1:] if argv is None else argv)
    prepare(app.shell)
    app.start()


if __name__ == "__main__":
    main()
