"""What crosses between the judge (``coursehub.graders.judge``, in the runner) and the
kernel (``coursehub.graders.grading_kernel``): messages and values, as data only.

Messages are length-prefixed JSON on a Unix stream socket. Values are JSON with tags, and
decoding builds genuine objects of exact, trusted types only: ``None``, ``bool``, ``int``,
``float``, ``complex``, ``str``, ``bytes``, lists, tuples, dicts, sets and frozensets of
those, namedtuples (rebuilt as a namedtuple of the same name and fields), ``OrderedDict``,
``Counter``, ``defaultdict`` (of a builtin factory), ``deque``, ``range``, ``Fraction``,
``Decimal``, ``datetime``/``date``/``time``/``timedelta``, and NumPy scalars and arrays of
non-object dtypes (``np.save``/``np.load`` with ``allow_pickle=False``). Nothing is ever
unpickled and no class named by the other side is ever instantiated. A subclass of a
builtin container or scalar whose ``==`` is still the builtin's travels as that builtin.
Everything else stays where it lives and travels as a reference (``{"H": id}`` for a kernel
object, ``{"J": id}`` for a judge object the kernel may only call).

This module is imported by both sides and imports nothing of CourseHub.
"""

from __future__ import annotations

import base64
import collections
import datetime
import decimal
import fractions
import io
import json
import math
import struct
import sys
from collections.abc import Callable
from typing import Any

MAX_MESSAGE = 256 << 20
MAX_DEPTH = 60
_HEADER = struct.Struct("!I")
FACTORIES = {"list": list, "int": int, "set": set, "dict": dict, "float": float, "str": str,
             "tuple": tuple}  # fmt: skip
_BUILTIN_BASES = (bool, int, float, complex, str, bytes, list, tuple, dict, set, frozenset)


class WireError(RuntimeError):
    """The other side sent something that is not a well-formed message or value."""


class NotData(Exception):
    """Raised inside ``encode`` for a value that must travel as a reference."""


def send(sock: Any, message: dict) -> None:
    body = json.dumps(message, separators=(",", ":")).encode()
    sock.sendall(_HEADER.pack(len(body)) + body)


def receive(sock: Any) -> dict:
    header = _read(sock, _HEADER.size)
    (size,) = _HEADER.unpack(header)
    if size > MAX_MESSAGE:
        raise WireError("message too large")
    try:
        message = json.loads(_read(sock, size))
    except ValueError as error:
        raise WireError(f"not JSON: {error}") from None
    if not isinstance(message, dict):
        raise WireError("a message must be an object")
    return message


def _read(sock: Any, size: int) -> bytes:
    chunks, missing = [], size
    while missing:
        chunk = sock.recv(min(missing, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the connection")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def _numpy() -> Any:
    return sys.modules.get("numpy")


def _same_eq(cls: type, base: type) -> bool:
    return all(
        getattr(cls, name, None) is getattr(base, name, None)
        for name in ("__eq__", "__ne__", "__hash__")
    )


def encode(value: Any, reference: Callable[[Any], dict], depth: int = 0) -> Any:
    """``value`` as wire data; what is not data becomes ``reference(value)``."""
    if depth > MAX_DEPTH:
        return reference(value)
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value if math.isfinite(value) else {"f": repr(value)}
    down = depth + 1

    def each(items: Any) -> list:
        return [encode(item, reference, down) for item in items]

    def pairs(items: Any) -> list:
        return [[encode(k, reference, down), encode(v, reference, down)] for k, v in items]

    if kind is list:
        return {"L": each(value)}
    if kind is tuple:
        return {"T": each(value)}
    if kind is dict:
        return {"D": pairs(value.items())}
    if kind is set:
        return {"S": each(value)}
    if kind is frozenset:
        return {"FS": each(value)}
    if kind is bytes:
        return {"B": base64.b64encode(value).decode()}
    if kind is complex:
        return {"C": [repr(value.real), repr(value.imag)]}
    if kind is collections.OrderedDict:
        return {"OD": pairs(value.items())}
    if kind is collections.Counter:
        return {"CO": pairs(value.items())}
    if kind is collections.defaultdict:
        factory = value.default_factory
        names = [n for n, f in FACTORIES.items() if f is factory]
        if factory is None or names:
            return {"DD": [names[0] if names else None, pairs(value.items())]}
        return reference(value)
    if kind is collections.deque:
        return {"Q": [each(value), value.maxlen]}
    if kind is range:
        return {"R": [value.start, value.stop, value.step]}
    if kind is fractions.Fraction:
        return {"FR": [value.numerator, value.denominator]}
    if kind is decimal.Decimal:
        return {"DE": str(value)}
    if kind is datetime.timedelta:
        return {"TD": [value.days, value.seconds, value.microseconds]}
    if kind in (datetime.datetime, datetime.date, datetime.time):
        if getattr(value, "tzinfo", None) is not None:
            return reference(value)
        return {"DT": [kind.__name__, value.isoformat()]}
    if kind is bytearray:
        return {"BA": base64.b64encode(bytes(value)).decode()}
    numpy = _numpy()
    if numpy is not None and isinstance(value, numpy.ndarray | numpy.generic):
        if kind not in (numpy.ndarray, type(numpy.asarray(value)[()])) or value.dtype.hasobject:
            return reference(value)
        buffer = io.BytesIO()
        numpy.save(buffer, numpy.asarray(value), allow_pickle=False)
        scalar = isinstance(value, numpy.generic)
        return {"NP": [base64.b64encode(buffer.getvalue()).decode(), scalar]}
    if isinstance(value, tuple) and hasattr(kind, "_fields") and _same_eq(kind, tuple):
        fields = [str(f) for f in kind._fields]
        if all(f.isidentifier() for f in fields) and kind.__name__.isidentifier():
            return {"NT": [kind.__name__, fields, each(value)]}
    for base in _BUILTIN_BASES:
        if isinstance(value, base) and kind is not base and _same_eq(kind, base):
            return encode(base(value), reference, depth)  # a subclass that keeps base's ==
    return reference(value)


def decode(data: Any, resolve: Callable[[str, Any], Any], depth: int = 0) -> Any:
    """Wire data back to genuine objects; ``resolve(tag, payload)`` turns a reference
    (tags ``H``, ``J``, ``M``, ``X``) into an object of the receiving side."""
    if depth > MAX_DEPTH + 2:
        raise WireError("value nested too deeply")
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is not dict or len(data) != 1:
        raise WireError(f"not a value: {type(data).__name__}")
    ((tag, payload),) = data.items()
    down = depth + 1

    def each() -> list:
        if type(payload) is not list:
            raise WireError(f"{tag} needs a list")
        return [decode(item, resolve, down) for item in payload]

    def pairs(items: Any) -> list:
        if type(items) is not list or any(type(p) is not list or len(p) != 2 for p in items):
            raise WireError(f"{tag} needs pairs")
        return [(decode(k, resolve, down), decode(v, resolve, down)) for k, v in items]

    try:
        return _decode_tag(tag, payload, each, pairs, resolve)
    except WireError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, decimal.InvalidOperation) as error:
        raise WireError(f"bad {tag} value: {error}") from None


def _decode_tag(tag: str, payload: Any, each: Any, pairs: Any, resolve: Any) -> Any:
    if tag == "L":
        return each()
    if tag == "T":
        return tuple(each())
    if tag == "D":
        return dict(pairs(payload))
    if tag == "S":
        return set(each())
    if tag == "FS":
        return frozenset(each())
    if tag == "f":
        if payload not in ("nan", "inf", "-inf"):
            raise WireError("bad float")
        return float(payload)
    if tag == "B":
        return base64.b64decode(payload, validate=True)
    if tag == "BA":
        return bytearray(base64.b64decode(payload, validate=True))
    if tag == "C":
        return complex(float(payload[0]), float(payload[1]))
    if tag == "OD":
        return collections.OrderedDict(pairs(payload))
    if tag == "CO":
        return collections.Counter(dict(pairs(payload)))
    if tag == "DD":
        factory = None if payload[0] is None else FACTORIES[payload[0]]
        return collections.defaultdict(factory, pairs(payload[1]))
    if tag == "Q":
        items, maxlen = payload
        if maxlen is not None and type(maxlen) is not int:
            raise WireError("bad deque")
        return collections.deque(decode({"L": items}, resolve), maxlen)
    if tag == "R":
        if any(type(p) is not int for p in payload):
            raise WireError("bad range")
        return range(*payload)
    if tag == "FR":
        return fractions.Fraction(int(payload[0]), int(payload[1]))
    if tag == "DE":
        return decimal.Decimal(str(payload))
    if tag == "TD":
        return datetime.timedelta(*(int(p) for p in payload))
    if tag == "DT":
        kind = {"datetime": datetime.datetime, "date": datetime.date, "time": datetime.time}
        return kind[payload[0]].fromisoformat(str(payload[1]))
    if tag == "NT":
        name, fields, values = payload
        made = _namedtuple(str(name), tuple(str(f) for f in fields))
        return made(*decode({"L": values}, resolve))
    if tag == "NP":
        import numpy

        array = numpy.load(io.BytesIO(base64.b64decode(payload[0])), allow_pickle=False)
        return array[()] if payload[1] else array
    if tag in ("H", "J", "M", "X"):
        return resolve(tag, payload)
    raise WireError(f"unknown tag {tag!r}")


_namedtuples: dict[tuple[str, tuple[str, ...]], type] = {}


def _namedtuple(name: str, fields: tuple[str, ...]) -> type:
    key = (name, fields)
    if key not in _namedtuples:
        _namedtuples[key] = collections.namedtuple(name, fields)
    return _namedtuples[key]


def is_data(value: Any) -> bool:
    """Whether ``value`` travels as data as a whole (no reference inside)."""
    try:
        encode(value, _refuse)
    except NotData:
        return False
    return True


def _refuse(value: Any) -> dict:
    raise NotData(type(value).__name__)
