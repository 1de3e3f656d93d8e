"""The judge: runs each test cell in the runner's own interpreter, never in the kernel.

Threat model. The student's code runs in the grading kernel and may do anything Python
allows there: rebind or patch any name, install IPython hooks, replace the kernel's serve
loop, read everything the kernel is sent, start processes (up to the kernel's share of the
job's process budget) and signal or stop processes of the job's uid. It cannot ptrace or
read the runner (non-dumpable), reach anything outside the sandbox, or read the plan (the
runner's stdin). So:

- Hidden test code never enters the kernel. The runner (``coursehub.graders.runner``)
  sends the kernel only ``__coursehub_serve__("<address>")``; the test's code runs here,
  compiled from the instructor's text, with the judge's own builtins.
- A verdict is decided here: a test passes when its code runs to its end in this
  interpreter. Nothing the kernel says can make an ``assert`` pass except values that
  answer the question.
- The test's names are a mapping that mirrors the kernel's user namespace: reading a name
  asks the kernel, assigning and ``del`` write through to it. Values cross as data
  (``coursehub.graders.judge_wire``) and are rebuilt here as genuine objects of trusted
  types; everything else stays in the kernel as a ``Handle`` whose operations are forwarded
  and whose results come back the same way.
- Comparing a handle with data never runs the notebook's ``==``: it is False (an
  always-equal object, ``unittest.mock.ANY``, a forged ``co_filename``: all fail) and is
  flagged for staff. Two handles are compared by the notebook (an "implement ``__eq__``"
  exercise), except dataclass instances with generated equality, which are compared here
  field by field (same class, equal fields).
- Names the instructor imported (in a test cell or a locked cell), modules and library
  functions are resolved here by import, never used from the kernel; a notebook that
  rebinds them is flagged. Builtin exception names are always the judge's own; a notebook
  that shadows one is flagged. Exceptions raised in the kernel are re-raised here as the
  same builtin class, or as a stand-in class for an exception class of the notebook (the
  same stand-in the test gets when it names that class, so ``except MyError`` works).
- Student code sees the arguments a hidden test passes it (a function is called with
  them) and can remember them. So every output of student code from the first hidden test
  on is withheld from the student (``coursehub.graders.feedback``), and a later output that
  shows a value a hidden test passed is flagged as argument spying.
- IPython syntax in test cells goes through IPython's own ``TransformerManager``; ``%time``,
  ``%timeit`` and ``%%capture`` run their code here, ``!cmd`` and other magics run in the
  kernel.

Flags say which check fired; they go to staff only, never into the student's feedback.

What this does not stop: operations on a student's object (a handle) run the student's
code, as they must (``v + w`` for a vector exercise), so an object whose ``__sub__`` always
returns 0 passes ``abs(answer - expected) < tol`` as it does in nbgrader; only comparisons
with data are guarded. Functions the instructor defines in a locked cell run in the kernel
(a notebook can rebind them; imports cannot be). The runner runs as the job's uid, so the
notebook can SIGSTOP or SIGKILL it: that ends the job (a timeout or a crash, the student's,
flagged), it never forges a pass; a second uid for the runner would stop even that.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import importlib
import importlib.abc
import importlib.util
import io
import os
import socket
import stat
import sys
import threading
import time
import traceback
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from coursehub.graders import judge_wire as wire

TEST_FILENAME = "<test>"
EXCEPTION_NAMES = frozenset(
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
)
MAX_SPIED = 200
SAFE_MODULES = frozenset({
    "math", "cmath", "statistics", "numpy", "pandas", "collections", "itertools",
    "fractions", "decimal", "datetime", "string", "re", "random", "operator", "functools",
})  # fmt: skip
# An exception class the kernel says is a library's is the judge's own import, never one
# of these modules'.
UNTRUSTED_MODULES = frozenset({
    "__main__", "builtins", "os", "posix", "sys", "subprocess", "shutil", "signal", "ctypes",
    "importlib", "runpy", "code", "pty", "socket", "io", "pathlib", "_io", "threading",
    "multiprocessing", "gc", "inspect", "pickle", "marshal", "coursehub",
})  # fmt: skip


class Aborted(BaseException):
    """The runner stopped the test (the cell timed out, the kernel died or never
    connected)."""


_MISSING = object()
_output = threading.local()


class ThreadOutput(io.TextIOBase):
    """``sys.stdout`` of the runner: what the judge's thread prints goes to the test's
    buffer, everything else to the original stream."""

    def __init__(self, original: Any) -> None:
        self.original = original

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        buffer = getattr(_output, "buffer", None)
        return (buffer or self.original).write(text)

    def flush(self) -> None:
        buffer = getattr(_output, "buffer", None)
        (buffer or self.original).flush()


def instructor_imports(sources: list[str]) -> dict[str, tuple[str, str | None]]:
    """Top-level imports of the instructor's cells: name -> (module, attribute or None;
    ``"*"`` for a star import, keyed by ``*module``)."""
    from IPython.core.inputtransformer2 import TransformerManager

    pinned: dict[str, tuple[str, str | None]] = {}
    for source in sources:
        try:
            tree = ast.parse(TransformerManager().transform_cell(source))
        except (SyntaxError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        pinned[alias.asname] = (alias.name, None)
                    else:
                        top = alias.name.split(".")[0]
                        pinned[top] = (top, None)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:
                    if alias.name == "*":
                        pinned[f"*{node.module}"] = (node.module, "*")
                    else:
                        pinned[alias.asname or alias.name] = (node.module, alias.name)
    return pinned


class AssignmentModules(importlib.abc.MetaPathFinder):
    """Python modules among the assignment's data files: the judge imports ``helpers.py``
    beside the notebook only if root owns it (the grader put it there; the job folder is
    sticky, so the job cannot replace it). The job folder itself is not on the judge's path:
    a module the student wrote there is never imported here."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if path is not None or "." in name:
            return None
        package = self.folder / name
        for candidate, locations in ((package / "__init__.py", [str(package)]),
                                     (self.folder / f"{name}.py", None)):  # fmt: skip
            if _root_owned_file(candidate) and (locations is None or _root_owned(package)):
                return importlib.util.spec_from_file_location(
                    name, candidate, submodule_search_locations=locations
                )
        return None


def _root_owned(path: Path) -> bool:
    try:
        status = os.lstat(path)
    except OSError:
        return False
    return status.st_uid == 0 and not stat.S_ISLNK(status.st_mode)


def _root_owned_file(path: Path) -> bool:
    return _root_owned(path) and stat.S_ISREG(os.lstat(path).st_mode)


class TestNamespace(dict):
    """The test's globals: judge-local names (the test's own functions, imports) in the
    dict itself, every other name in the kernel."""

    def __init__(self, judge: Judge) -> None:
        super().__init__()
        self.judge = judge

    def __getitem__(self, name: str) -> Any:
        if dict.__contains__(self, name):
            return dict.__getitem__(self, name)
        return self.judge.lookup(name)

    def __setitem__(self, name: str, value: Any) -> None:
        self.judge.assign(name, value)

    def __delitem__(self, name: str) -> None:
        self.judge.delete(name)


class Judge:
    """One run's judge: its handles, stand-ins and the test namespace live across tests."""

    def __init__(self, instructor_sources: list[str], workdir: Path) -> None:
        self.workdir = workdir
        if not any(isinstance(f, AssignmentModules) for f in sys.meta_path):
            sys.meta_path.append(AssignmentModules(workdir))
        self.pinned = instructor_imports(instructor_sources)
        self.handles: dict[int, Handle] = {}
        self.standins: dict[int, type] = {}
        self.standin_ids: dict[type, int] = {}
        self.callables: dict[int, Any] = {}
        self.sock: socket.socket | None = None
        self.aborted = threading.Event()
        self.finished = threading.Event()  # the current test's verdict is made
        self.flags: list[str] = []
        self.hidden: set[int] = set()
        self.spied: set[str] = set()
        self.builtins = dict(vars(builtins))
        self.builtins["type"] = self._type
        self.namespace = TestNamespace(self)
        dict.__setitem__(self.namespace, "__builtins__", self.builtins)
        dict.__setitem__(self.namespace, "__name__", "__main__")
        dict.__setitem__(self.namespace, "get_ipython", lambda: JudgeShell(self))

    # --- flags -----------------------------------------------------------------------------

    def flag(self, text: str) -> None:
        if text not in self.flags:
            self.flags.append(text)

    # --- the conversation ---------------------------------------------------------------

    def request(self, message: dict) -> Any:
        sock = self.sock
        if sock is None or self.aborted.is_set():
            raise Aborted
        try:
            wire.send(sock, message)
            while True:
                reply = wire.receive(sock)
                if "op" not in reply:
                    break
                self._callback(reply)
        except (OSError, EOFError) as error:
            raise Aborted from error
        except wire.WireError as error:
            self.flag(f"protocol:{error}")
            raise Aborted from error
        if reply.get("missing"):
            return _MISSING
        if "error" in reply:
            raise self._exception(reply["error"])
        if "value" not in reply:
            self.flag("protocol:reply without value")
            raise Aborted
        return self.decode(reply["value"])

    def _callback(self, message: dict) -> None:
        """The kernel calls a function the test gave it."""
        assert self.sock is not None
        try:
            if message.get("op") != "callback":
                raise wire.WireError("unexpected request")
            target = self.callables[int(message["target"])]
            result = target(*self.decode(message["args"]), **self.decode(message["kwargs"]))
            reply: dict = {"value": self.encode(result)}
        except Aborted:
            raise
        except Exception as error:
            reply = {"error": {"name": type(error).__name__, "text": str(error)}}
        wire.send(self.sock, reply)

    def _exception(self, error: Any) -> BaseException:
        try:
            cls = self.decode(error["class"])
            args = self.decode(error["args"])
            text = str(error.get("text", ""))
        except (KeyError, TypeError, wire.WireError):
            self.flag("protocol:bad exception")
            return RuntimeError("the notebook's code failed")
        if not (isinstance(cls, type) and issubclass(cls, BaseException)):
            cls = RuntimeError
        try:
            made = cls(*args) if isinstance(args, list) else cls(text)
        except Exception:
            made = cls(text) if cls is not RuntimeError else RuntimeError(text)
        made.__notes__ = [str(error.get("traceback", ""))[-4000:]]
        return made

    # --- values ---------------------------------------------------------------------------

    def decode(self, data: Any) -> Any:
        return wire.decode(data, self._resolve)

    def encode(self, value: Any) -> Any:
        return wire.encode(value, self._outgoing)

    def _outgoing(self, value: Any) -> dict:
        if isinstance(value, Handle):
            return {"H": value._id}
        if isinstance(value, type) and issubclass(value, BaseException):
            if value in self.standin_ids:
                return {"H": self.standin_ids[value]}
            if getattr(builtins, value.__name__, None) is value:
                return {"X": value.__name__}
        if isinstance(value, types.ModuleType):
            return {"M": value.__name__}
        if callable(value):
            self.callables[id(value)] = value
            return {"J": id(value)}
        raise TypeError(f"a {type(value).__name__} of the test cannot be given to the notebook")

    def _resolve(self, tag: str, payload: Any) -> Any:
        if tag == "M":
            key, name = int(payload[0]), str(payload[1])
            module = self._library_module(name) if self._trusted_module(name) else None
            return module if module is not None else self._handle({"id": key, "type": name})
        if tag == "X":
            key, module, qualname, base = (str(p) for p in payload)
            if module == "builtins" and qualname in EXCEPTION_NAMES:
                return getattr(builtins, qualname)
            found = self._library_object(module, qualname)
            if isinstance(found, type) and issubclass(found, BaseException):
                return found
            return self._standin(int(key), module, qualname, base)
        if tag == "H":
            if type(payload) is not dict or type(payload.get("id")) is not int:
                raise wire.WireError("bad reference")
            return self._handle(payload)
        raise wire.WireError(f"{tag} from the kernel")

    def _trusted_module(self, name: str) -> bool:
        """A module the kernel names that the judge may use as its own import: one the
        instructor imported, or a numeric or data library. Any other module stays in the
        kernel (the kernel could name a module whose functions run strings)."""
        top = name.split(".")[0]
        pinned = {module.split(".")[0] for module, _ in self.pinned.values()}
        return top in pinned or top in SAFE_MODULES

    def _handle(self, info: dict) -> Handle:
        key = info["id"]
        if key not in self.handles:
            self.handles[key] = Handle(self, key, info)
        return self.handles[key]

    def _standin(self, key: int, module: str, qualname: str, base: str) -> type:
        if key not in self.standins:
            parent = getattr(builtins, base, Exception)
            if not (isinstance(parent, type) and issubclass(parent, BaseException)):
                parent = Exception
            name = qualname.rsplit(".", 1)[-1]
            made = type(name, (parent,), {"__module__": module, "__qualname__": qualname})
            self.standins[key], self.standin_ids[made] = made, key
        return self.standins[key]

    def _library_module(self, name: str) -> types.ModuleType | None:
        """A module the judge may import itself: already loaded, or found outside the job
        folder (a module the student wrote there is never imported here)."""
        if name in sys.modules:
            return sys.modules[name]
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            return None
        if spec is None:
            return None
        try:
            return importlib.import_module(name)
        except Exception:
            return None

    def _library_object(self, module: str, qualname: str) -> Any:
        top = module.split(".")[0]
        if top in UNTRUSTED_MODULES or module not in sys.modules:
            return _MISSING
        found: Any = sys.modules[module]
        for part in qualname.split("."):
            found = getattr(found, part, _MISSING)
            if found is _MISSING or part == "<locals>":
                return _MISSING
        if isinstance(found, types.FunctionType | types.BuiltinFunctionType | type):
            return found
        return _MISSING

    def _type(self, *args: Any) -> Any:
        if len(args) == 1 and isinstance(args[0], Handle):
            return args[0]._unary("type")
        return type(*args)

    # --- names ----------------------------------------------------------------------------

    def lookup(self, name: str) -> Any:
        if name in EXCEPTION_NAMES:
            if self.request({"op": "has", "name": name}):
                self.flag(f"shadowed-exception:{name}")
            raise KeyError(name)
        pinned = self._pinned(name)
        if pinned is not _MISSING:
            theirs = self.request({"op": "get", "name": name})
            if theirs is not _MISSING and theirs is not pinned:
                self.flag(f"rebound-import:{name}")
            dict.__setitem__(self.namespace, name, pinned)
            return pinned
        value = self.request({"op": "get", "name": name})
        if value is _MISSING:
            raise KeyError(name)
        return value

    def _pinned(self, name: str) -> Any:
        if name in self.pinned:
            module, attribute = self.pinned[name]
            return self._import(module, attribute)
        for key, (module, attribute) in self.pinned.items():
            if attribute == "*" and key.startswith("*"):
                loaded = self._library_module(module)
                public = getattr(loaded, "__all__", None) or [
                    n for n in dir(loaded) if not n.startswith("_")
                ]
                if loaded is not None and name in public:
                    return getattr(loaded, name, _MISSING)
        return _MISSING

    def _import(self, module: str, attribute: str | None) -> Any:
        loaded = self._library_module(module)
        if loaded is None:
            return _MISSING
        if attribute is None:
            return loaded
        found = getattr(loaded, attribute, _MISSING)
        if found is _MISSING:
            found = self._library_module(f"{module}.{attribute}") or _MISSING
        return found

    def assign(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType):
            dict.__setitem__(self.namespace, name, value)
            with contextlib.suppress(Exception):
                self.request({"op": "import", "name": name, "module": value.__name__})
            return
        try:
            encoded = wire.encode(value, self._outgoing_no_callables)
        except wire.NotData:
            dict.__setitem__(self.namespace, name, value)  # the test's own function or object
            return
        dict.pop(self.namespace, name, None)
        self.request({"op": "set", "name": name, "value": encoded})

    def _outgoing_no_callables(self, value: Any) -> dict:
        if isinstance(value, Handle) or (isinstance(value, type) and value in self.standin_ids):
            return self._outgoing(value)
        raise wire.NotData(type(value).__name__)

    def delete(self, name: str) -> None:
        if dict.__contains__(self.namespace, name):
            dict.__delitem__(self.namespace, name)
            return
        self.request({"op": "del", "name": name})

    # --- hidden-test bookkeeping ------------------------------------------------------------

    def in_hidden_line(self) -> bool:
        if not self.hidden:
            return False
        frame = sys._getframe(1)
        line = None
        while frame is not None:
            if frame.f_code.co_filename == TEST_FILENAME:
                line = frame.f_lineno
            frame = frame.f_back  # type: ignore[assignment]
        return line in self.hidden

    def note_sent(self, *values: Any) -> None:
        """Remember what a hidden line handed to the notebook (to spot argument spying)."""
        if len(self.spied) >= MAX_SPIED or not self.in_hidden_line():
            return
        for value in _flatten(values):
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                text = value if isinstance(value, str) else repr(value)
                if len(text) >= 2:
                    self.spied.add(text)

    # --- one test -------------------------------------------------------------------------

    def run_test(self, sock: socket.socket | None, code: str, hidden: set[int]) -> dict:
        """Execute one test cell's complete code; the record the verdict is made from."""
        from IPython.core.inputtransformer2 import TransformerManager

        self.sock, self.flags, self.hidden, self.spied = sock, [], hidden, set()
        buffer = io.StringIO()
        _output.buffer = buffer
        record: dict[str, Any] = {"status": "ok", "value": None}
        try:
            if sock is None:
                raise Aborted
            source = TransformerManager().transform_cell(code)
            value = self.execute(source, 0)
            if value is not None:
                record["value"] = repr(value)[:200]
        except Aborted:
            record["status"] = "aborted"
        except BaseException as error:
            record.update(self._failure(error, code))
        finally:
            self.finished.set()
            _output.buffer = None
            if self.sock is not None:
                with contextlib.suppress(OSError):
                    wire.send(self.sock, {"op": "done"})
            self.sock = None
        record["printed"] = buffer.getvalue()[-100_000:]
        record["flags"] = list(self.flags)
        record["sent"] = sorted(self.spied)
        return record

    def execute(self, source: str, offset: int) -> Any:
        """Run ``source`` (lines shifted by ``offset``) in the test namespace; the value of
        its last expression."""
        tree = ast.parse(source, TEST_FILENAME)
        if offset:
            ast.increment_lineno(tree, offset)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, TEST_FILENAME, "exec"), self.namespace)  # noqa: S102
        if last is None:
            return None
        expression = ast.fix_missing_locations(ast.Expression(last.value))
        return eval(compile(expression, TEST_FILENAME, "eval"), self.namespace)  # noqa: S307

    def _failure(self, error: BaseException, code: str) -> dict:
        lines = code.split("\n")
        frames = [
            frame
            for frame, number in traceback.walk_tb(error.__traceback__)
            if frame.f_code.co_filename == TEST_FILENAME
        ]
        numbers = [
            number
            for frame, number in traceback.walk_tb(error.__traceback__)
            if frame.f_code.co_filename == TEST_FILENAME
        ]
        failing = numbers[-1] if numbers else None
        hidden = failing in self.hidden if failing is not None else bool(self.hidden)
        del frames
        shown = [
            f"  Test line {n}: {lines[n - 1].strip() if 0 < n <= len(lines) else ''}"
            for n in numbers
            if n not in self.hidden
        ]
        name = type(error).__name__
        text = str(error)
        notes = getattr(error, "__notes__", None) or []
        student_trace = str(notes[0]) if notes else ""
        trace = ["Traceback (the test's lines):", *shown]
        if student_trace and not hidden:
            trace.append("In the notebook's code:\n" + student_trace.rstrip())
        trace.append(f"{name}: {text}" if text else name)
        return {
            "status": "fail",
            "ename": name,
            "evalue": text[:2000],
            "hidden": hidden,
            "line": failing,
            "traceback": trace,
        }


def _flatten(values: Any) -> Iterator[Any]:
    for value in values:
        if isinstance(value, list | tuple | set | frozenset):
            yield from _flatten(value)
        elif isinstance(value, dict):
            yield from _flatten(list(value.items()))
        else:
            yield value


class JudgeShell:
    """What ``get_ipython()`` is inside a test: magics that time or capture run their code
    in the judge; shell commands and other magics run in the kernel."""

    def __init__(self, judge: Judge) -> None:
        self.judge = judge

    def run_line_magic(self, name: str, line: str, _stack_depth: int = 1) -> Any:
        if name in ("time", "timeit"):
            started = time.perf_counter()
            try:
                value = eval(compile(line, TEST_FILENAME, "eval"), self.judge.namespace)  # noqa: S307
            except SyntaxError:
                exec(compile(line, TEST_FILENAME, "exec"), self.judge.namespace)  # noqa: S102
                value = None
            print(f"Wall time: {time.perf_counter() - started:.3g} s")
            return value if name == "time" else None
        return self.judge.request({"op": "magic", "kind": "line", "name": name, "line": line})

    def run_cell_magic(self, name: str, line: str, cell: str) -> Any:
        if name in ("capture", "time", "timeit"):
            buffer = io.StringIO()
            previous = getattr(_output, "buffer", None)
            if name == "capture":
                _output.buffer = buffer
            started = time.perf_counter()
            try:
                self.judge.execute(cell, 1)
            finally:
                _output.buffer = previous
            if name == "capture" and line.split():
                captured = types.SimpleNamespace(stdout=buffer.getvalue(), stderr="", outputs=[])
                dict.__setitem__(self.judge.namespace, line.split()[0], captured)
            if name != "capture":
                print(f"Wall time: {time.perf_counter() - started:.3g} s")
            return None
        raise RuntimeError(f"The cell magic %%{name} cannot be used in a test cell.")

    def system(self, command: str) -> Any:
        return self.judge.request({"op": "magic", "kind": "system", "name": "", "line": command})

    def getoutput(self, command: str) -> Any:
        return self.judge.request({"op": "magic", "kind": "line", "name": "sx", "line": command})


def _forwarded(name: str, reflected: bool = False) -> Any:
    def method(self: Handle, other: Any) -> Any:
        if reflected:
            return self._judge.request(
                {"op": "binary", "name": name, "target": self._judge.encode(other),
                 "other": {"H": self._id}}
            )  # fmt: skip
        return self._binary(name, other)

    return method


def _forwarded_unary(name: str, convert: Any = None) -> Any:
    def method(self: Handle) -> Any:
        value = self._unary(name)
        return value if convert is None else convert(value)

    return method


def _ordering(name: str) -> Any:
    def method(self: Handle, other: Any) -> Any:
        if isinstance(other, Handle):
            return self._binary(name, other)
        self._judge.flag(f"ordering-non-data:{self._info.get('type')}")
        return NotImplemented

    return method


class Handle:
    """An object that stays in the kernel; every use of it is a question to the kernel."""

    __slots__ = ("_id", "_info", "_judge")

    def __init__(self, judge: Judge, key: int, info: dict) -> None:
        object.__setattr__(self, "_judge", judge)
        object.__setattr__(self, "_id", key)
        object.__setattr__(self, "_info", info)

    def _ask(self, message: dict) -> Any:
        message["target"] = {"H": self._id}
        return self._judge.request(message)

    def _unary(self, name: str) -> Any:
        return self._ask({"op": "unary", "name": name})

    def _binary(self, name: str, other: Any) -> Any:
        self._judge.note_sent(other)
        return self._ask({"op": "binary", "name": name, "other": self._judge.encode(other)})

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        judge = self._judge
        judge.note_sent(args, kwargs)
        return self._ask(
            {"op": "call", "args": judge.encode(list(args)), "kwargs": judge.encode(kwargs)}
        )

    def __getattr__(self, name: str) -> Any:
        return self._ask({"op": "getattr", "name": name})

    def __setattr__(self, name: str, value: Any) -> None:
        self._ask({"op": "setattr", "name": name, "value": self._judge.encode(value)})

    def __delattr__(self, name: str) -> None:
        self._ask({"op": "delattr", "name": name})

    def __getitem__(self, key: Any) -> Any:
        return self._binary("getitem", key)

    def __setitem__(self, key: Any, value: Any) -> None:
        encode = self._judge.encode
        self._ask({"op": "setitem", "key": encode(key), "value": encode(value)})

    def __delitem__(self, key: Any) -> None:
        self._ask({"op": "delitem", "key": self._judge.encode(key)})

    def __contains__(self, item: Any) -> bool:
        return bool(self._binary("contains", item))

    def __eq__(self, other: object) -> Any:
        if isinstance(other, Handle):
            if self._info.get("dataclass") or other._info.get("dataclass"):
                return self._fields_equal(other)
            return self._binary("eq", other)
        self._judge.flag(f"eq-non-data:{self._info.get('type')}")
        return False

    def __ne__(self, other: object) -> Any:
        if isinstance(other, Handle):
            if self._info.get("dataclass") or other._info.get("dataclass"):
                return not self._fields_equal(other)
            return self._binary("ne", other)
        self._judge.flag(f"eq-non-data:{self._info.get('type')}")
        return True

    def _fields_equal(self, other: Handle) -> bool:
        mine, theirs = self._ask({"op": "fields"}), other._ask({"op": "fields"})
        if mine is None or theirs is None:
            self._judge.flag(f"eq-dataclass-other:{self._info.get('type')}")
            return False
        return bool(mine[0] is theirs[0] and mine[1] == theirs[1])

    __lt__, __le__ = _ordering("lt"), _ordering("le")
    __gt__, __ge__ = _ordering("gt"), _ordering("ge")

    def __iter__(self) -> Iterator[Any]:
        iterator = self._unary("iter")
        if not isinstance(iterator, Handle):
            yield from iterator
            return
        while True:
            try:
                yield iterator._unary("next")
            except StopIteration:
                return

    def __format__(self, spec: str) -> str:
        return str(self._ask({"op": "format", "spec": spec}))

    def __round__(self, digits: int | None = None) -> Any:
        if digits is None:
            return self._unary("round")
        return self._judge.builtins["round"](float(self), digits)

    def __exit__(self, *details: Any) -> Any:
        args = [None, None, None] if details[0] is None else [details[0], str(details[1]), None]
        return self._ask({"op": "exit", "args": self._judge.encode(args)})

    def __instancecheck__(self, value: Any) -> bool:
        return bool(self._ask({"op": "isinstance", "value": self._judge.encode(value)}))

    def __subclasscheck__(self, value: Any) -> bool:
        return bool(self._ask({"op": "issubclass", "value": self._judge.encode(value)}))


for _operator in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and_",
                  "or_", "xor", "lshift", "rshift"):  # fmt: skip
    _name = _operator.rstrip("_")
    setattr(Handle, f"__{_name}__", _forwarded(_operator))
    setattr(Handle, f"__r{_name}__", _forwarded(_operator, True))
for _name, _convert in (
    ("hash", int), ("bool", bool), ("len", int), ("repr", str), ("str", str), ("index", int),
    ("int", int), ("float", float), ("complex", complex), ("next", None), ("neg", None),
    ("pos", None), ("abs", None), ("invert", None), ("dir", None), ("enter", None),
):  # fmt: skip
    setattr(Handle, f"__{_name}__", _forwarded_unary(_name, _convert))
