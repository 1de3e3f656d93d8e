"""The grading kernel: ipykernel plus a serve loop that answers the judge's questions.

``python -m coursehub.graders.grading_kernel -f <connection file>`` is the kernel the runner
(``coursehub.graders.runner``) starts inside the sandbox. Student cells and the instructor's
locked cells run through IPython as usual. Test cells never run here: for each test cell
the runner sends one ordinary cell, ``__coursehub_serve__("<address>")``, and while it runs
the judge (``coursehub.graders.judge``, in the runner's own interpreter) executes the test
and asks this loop, over a Unix socket, for what the test touches in the notebook: the value
of a name, a call of a function, an attribute, an item, an operator. Answers go back as
data (``coursehub.graders.judge_wire``) or as references to objects that stay here.

Nothing in this module is secret and nothing in it decides a verdict. Student code may
replace ``__coursehub_serve__``, patch it or talk to the judge itself: all it can do then
is lie about the notebook's values, which is what answering the exercise is. Prints made
by student code while a test calls it are that test cell's outputs, as in nbgrader; the
cell's time limit and output limit apply to the serve loop like to any cell.

Before the kernel starts, its processes are limited to ``COURSEHUB_KERNEL_NPROC`` (from the
runner): the runner keeps a reserve of the job's process budget that no fork bomb can take.
"""

from __future__ import annotations

import builtins
import dataclasses
import importlib
import operator
import os
import socket
import sys
import traceback
from collections.abc import Callable
from typing import Any

from coursehub.graders import judge_wire as wire

ENTRY_NAME = "__coursehub_serve__"
NPROC_VARIABLE = "COURSEHUB_KERNEL_NPROC"

BINARY = {
    name: getattr(operator, name)
    for name in (
        "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and_", "or_",
        "xor", "lshift", "rshift", "eq", "ne", "lt", "le", "gt", "ge", "contains", "getitem",
    )
}  # fmt: skip
UNARY: dict[str, Callable[[Any], Any]] = {
    "neg": operator.neg, "pos": operator.pos, "abs": abs, "invert": operator.invert,
    "len": len, "repr": repr, "str": str, "bool": bool, "hash": hash, "iter": iter,
    "next": next, "index": operator.index, "int": int, "float": float, "complex": complex,
    "type": type, "dir": dir, "round": round, "enter": lambda o: o.__enter__(),
}  # fmt: skip


class _Server:
    """One kernel's side of the conversation; its references live as long as the kernel."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.objects: dict[int, Any] = {}
        self.sock: socket.socket | None = None

    # --- values ---------------------------------------------------------------------------

    def reference(self, value: Any) -> dict:
        key = id(value)
        self.objects[key] = value
        cls = value if isinstance(value, type) else type(value)
        info: dict[str, Any] = {
            "id": key,
            "type": f"{cls.__module__}.{cls.__qualname__}",
            "callable": callable(value),
        }
        if isinstance(value, type(sys)):
            return {"M": [key, value.__name__]}
        if isinstance(value, type) and issubclass(value, BaseException):
            base = next(c for c in value.__mro__ if c.__module__ == "builtins")
            return {"X": [key, value.__module__, value.__qualname__, base.__name__]}
        if isinstance(value, type):
            info["class"] = True
        elif _generated_equality(type(value)):
            info["dataclass"] = True
        module, name = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
        if isinstance(module, str) and isinstance(name, str) and module != "__main__":
            info["library"] = [module, name]
        return {"H": info}

    def encode(self, value: Any) -> Any:
        return wire.encode(value, self.reference)

    def resolve(self, tag: str, payload: Any) -> Any:
        if tag == "H":
            return self.objects[int(payload)]
        if tag == "M":
            return importlib.import_module(str(payload))
        if tag == "J":
            return _JudgeObject(self, int(payload))
        if tag == "X":
            return getattr(builtins, str(payload))
        raise wire.WireError(tag)

    def decode(self, data: Any) -> Any:
        return wire.decode(data, self.resolve)

    # --- the conversation -----------------------------------------------------------------

    def serve(self, address: str) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect("\0" + address)
        self.sock = sock
        try:
            while True:
                message = wire.receive(sock)
                if message.get("op") == "done":
                    return
                self.answer(message)
        except (EOFError, OSError):
            return
        finally:
            self.sock = None
            sock.close()

    def wait(self) -> dict:
        """Answer the judge's requests until the reply to ours comes."""
        assert self.sock is not None
        while True:
            message = wire.receive(self.sock)
            if "op" in message:
                if message["op"] == "done":
                    raise EOFError("the judge ended the test")
                self.answer(message)
            else:
                return message

    def answer(self, message: dict) -> None:
        assert self.sock is not None
        try:
            result = self.perform(message)
            reply = {"missing": True} if result is _Missing else {"value": self.encode(result)}
        except BaseException as error:
            if isinstance(error, EOFError | wire.WireError):
                raise
            reply = {"error": self.describe(error)}
        wire.send(self.sock, reply)

    def describe(self, error: BaseException) -> dict:
        cls = type(error)
        args = []
        for arg in error.args:
            args.append(arg if wire.is_data(arg) else repr(arg))
        lines = traceback.format_exception(cls, error, error.__traceback__)
        kept = [line for line in lines if "coursehub/graders" not in line]
        return {
            "class": self.reference(cls),
            "args": self.encode(args),
            "text": str(error),
            "traceback": "".join(kept)[-4000:],
        }

    def perform(self, message: dict) -> Any:
        op = message["op"]
        namespace = self.shell.user_ns
        arg = self.decode
        if op == "get":
            name = message["name"]
            if name not in namespace:
                return _Missing
            return namespace[name]
        if op == "has":
            return message["name"] in namespace
        if op == "set":
            namespace[message["name"]] = arg(message["value"])
            return None
        if op == "del":
            del namespace[message["name"]]
            return None
        if op == "import":
            namespace[message["name"]] = importlib.import_module(message["module"])
            return None
        target = arg(message["target"]) if "target" in message else None
        if op == "call":
            args = arg(message["args"])
            kwargs = arg(message["kwargs"])
            return target(*args, **kwargs)
        if op == "getattr":
            return getattr(target, message["name"])
        if op == "setattr":
            setattr(target, message["name"], arg(message["value"]))
            return None
        if op == "delattr":
            delattr(target, message["name"])
            return None
        if op == "setitem":
            target[arg(message["key"])] = arg(message["value"])
            return None
        if op == "delitem":
            del target[arg(message["key"])]
            return None
        if op == "binary":
            return BINARY[message["name"]](target, arg(message["other"]))
        if op == "unary":
            return UNARY[message["name"]](target)
        if op == "exit":
            return target.__exit__(*arg(message["args"]))
        if op == "format":
            return format(target, message["spec"])
        if op == "isinstance":
            return isinstance(arg(message["value"]), target)
        if op == "issubclass":
            return issubclass(arg(message["value"]), target)
        if op == "fields":
            if not dataclasses.is_dataclass(target) or isinstance(target, type):
                return None
            names = [f.name for f in dataclasses.fields(target) if f.compare]
            return [type(target), tuple(getattr(target, n) for n in names)]
        if op == "magic":
            shell = self.shell
            if message["kind"] == "system":
                return shell.system(message["line"])
            return shell.run_line_magic(message["name"], message["line"])
        raise wire.WireError(f"unknown operation {op!r}")


def _generated_equality(cls: type) -> bool:
    """A dataclass whose == is the one ``dataclasses`` generated (compared field by field
    in the judge)."""
    params = getattr(cls, "__dataclass_params__", None)
    code = getattr(cls.__dict__.get("__eq__"), "__code__", None)
    return bool(params and params.eq and code and code.co_filename == "<string>")


class _MissingType:
    def __repr__(self) -> str:
        return "<missing>"


_Missing = _MissingType()


class _JudgeObject:
    """A judge-side callable handed to notebook code (a function a test passes as an
    argument): calling it asks the judge to call it."""

    def __init__(self, server: _Server, key: int) -> None:
        self._server, self._key = server, key

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        server = self._server
        if server.sock is None:
            raise RuntimeError("a test's function can only be called while the test runs")
        request = {
            "op": "callback",
            "target": self._key,
            "args": server.encode(list(args)),
            "kwargs": server.encode(kwargs),
        }
        wire.send(server.sock, request)
        reply = server.wait()
        if "error" in reply:
            error = reply["error"]
            cls = getattr(builtins, str(error.get("name")), None)
            if not (isinstance(cls, type) and issubclass(cls, Exception)):
                cls = RuntimeError
            raise cls(str(error.get("text")))
        return server.decode(reply["value"])

    def __repr__(self) -> str:
        return "<function of the test>"


def install(shell: Any) -> None:
    """Put the serve loop into ``shell``'s namespace (called before any cell runs)."""
    server = _Server(shell)
    shell.user_ns[ENTRY_NAME] = server.serve
    shell.user_ns_hidden[ENTRY_NAME] = server.serve


def limit_processes() -> None:
    """The kernel and everything it starts may have at most this many processes of the
    job's uid (the runner's threads included); the hard limit cannot be raised again."""
    value = os.environ.pop(NPROC_VARIABLE, "")
    if value.isdigit():
        import resource

        resource.setrlimit(resource.RLIMIT_NPROC, (int(value), int(value)))


def main(argv: list[str] | None = None, prepare: Callable[[Any], None] = install) -> None:
    limit_processes()
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize(sys.argv[1:] if argv is None else argv)
    prepare(app.shell)
    app.start()


if __name__ == "__main__":
    main()
