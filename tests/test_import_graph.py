"""The course service's imports run one way: no cycle between modules, none between domain
packages, and no import of CourseHub code inside a function (where a cycle would hide).

The graph is read from the source with ``ast``, so a test run imports nothing of it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ROOT / "services"
PACKAGE = "coursehub.services"

# Imported inside functions on purpose: these need nbgrader, which only the grader extra
# installs (the course service runs without it until an assignment is made or graded).
OPTIONAL = ("coursehub.graders", "coursehub.services.assessment.nbgrader_import")

# Top to bottom; a unit imports only units of its own layer's lower layers (and, inside a
# layer, as the graph check allows: one way). Domain handlers sit on ``web`` (the base
# handler), which sits on the logic of accounts and notifications (it resolves who is
# signed in and announces what a request's transaction made).
LAYERS: list[tuple[str, ...]] = [
    ("cli",),
    ("launcher", "worker", "lms"),
    ("bootstrap",),
    ("seed",),
    ("*.handlers",),
    ("web",),
    ("front_door",),
    ("operations",),
    ("privacy", "support"),
    ("lti",),
    ("administration",),
    ("community", "quizzes", "learning", "analytics", "reports"),
    ("payments",),
    ("certificates",),
    ("assessment", "lessons"),
    ("variants",),
    ("notebook_runs",),
    ("courses",),
    ("accounts", "notifications"),
    ("mail",),
    ("site_settings",),
    ("audit",),
    ("jobs", "content", "models", "migrations"),
    ("settings", "db", "migrate", "embedded", "rate_limits", "errors", "processes"),
    ("structured_logs",),
    ("__init__",),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SERVICES).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([PACKAGE, *parts])


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(SERVICES.rglob("*.py"))}


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports(name: str, path: Path) -> Iterator[tuple[str, bool, int]]:
    """(imported module, inside a function?, line) for every CourseHub import of a module."""
    known = modules()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def walk(node: ast.AST, in_function: bool) -> Iterator[tuple[str, bool, int]]:
        for child in ast.iter_child_nodes(node):
            if _is_type_checking(child):
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.startswith("coursehub"):
                        yield alias.name, in_function, child.lineno
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, *([child.module] if child.module else [])])
                if not base.startswith("coursehub"):
                    continue
                for alias in child.names:
                    full = f"{base}.{alias.name}"
                    yield (full if full in known else base), in_function, child.lineno
            else:
                inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
                yield from walk(child, inner)

    yield from walk(ast.parse(path.read_text(encoding="utf-8")), False)


def unit_of(module: str) -> str:
    """``accounts`` for the accounts domain's logic, ``accounts.handlers`` for its
    handlers, ``lms`` for a top-level module."""
    if module == PACKAGE:
        return "__init__"
    parts = module.removeprefix(PACKAGE + ".").split(".")
    if len(parts) > 1 and parts[1] == "handlers":
        return f"{parts[0]}.handlers"
    return parts[0]


def module_graph() -> dict[str, set[str]]:
    known = modules()
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for target, in_function, _line in imports(name, path):
            if not in_function and target in known and target != name:
                graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of ``graph`` as a path (first node repeated at the end), or []."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def layer_of(unit: str) -> int:
    for index, layer in enumerate(LAYERS):
        if unit in layer or (unit.endswith(".handlers") and "*.handlers" in layer):
            return index
    raise AssertionError(f"{unit} is in no layer of LAYERS: place the new package there")


def test_no_import_cycle_between_modules():
    assert find_cycle(module_graph()) == []


def test_domain_packages_import_one_way():
    units: dict[str, set[str]] = {}
    for name, targets in module_graph().items():
        units.setdefault(unit_of(name), set()).update(
            unit_of(t) for t in targets if unit_of(t) != unit_of(name)
        )
    assert find_cycle(units) == []
    upward = sorted(
        f"{unit} -> {target}"
        for unit, targets in units.items()
        for target in targets
        if layer_of(target) < layer_of(unit)
    )
    assert upward == []


def test_no_coursehub_import_inside_a_function_except_optional_dependencies():
    hidden = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for name, path in modules().items()
        for target, in_function, line in imports(name, path)
        if in_function and not target.startswith(OPTIONAL)
    ]
    assert hidden == []


def test_the_checks_see_a_cycle_and_a_hidden_import(tmp_path):
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []
    module = SERVICES / "lms.py"
    found = list(imports("coursehub.services.lms", module))
    assert found and not any(in_function for _t, in_function, _l in found)
    source = tmp_path / "x.py"
    source.write_text("def f():\n    from coursehub.services import db\n")
    walked = list(imports("coursehub.services.x", source))
    assert walked == [("coursehub.services.db", True, 2)]


@pytest.mark.parametrize(
    ("module", "unit"),
    [
        ("coursehub.services.lms", "lms"),
        ("coursehub.services.quizzes.quiz_attempts", "quizzes"),
        ("coursehub.services.quizzes.handlers.quiz_pages", "quizzes.handlers"),
    ],
)
def test_units(module, unit):
    assert unit_of(module) == unit
