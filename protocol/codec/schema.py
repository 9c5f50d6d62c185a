"""The one msgpack schema engine of Cove: typed maps, field specs, a strict reader.

Every msgpack structure Cove defines (wire envelopes in :mod:`cove.protocol.wire`,
app records in :mod:`cove.protocol.app`, and whatever else needs typed msgpack)
is a frozen dataclass deriving from :class:`Record`, whose fields carry exactly
one :class:`Spec` in their annotation::

    group_id: Annotated[bytes, Bytes(16, 32)]
    seq: Annotated[int, Int(0, SEQ_MAX)]
    welcome: Annotated[bytes | None, Bytes(0, WELCOME)] = None

A record is one msgpack map with string keys, the fields in declaration order;
a field whose value is ``None`` (only fields declared ``= None`` may be) is
left out, never written as ``nil``. Framing (a version key, a type key,
padding) belongs to the layers above.

Specs:

| spec | msgpack | Python | checks |
|---|---|---|---|
| ``Bytes(min_len, max_len)`` | bin | ``bytes`` | length in bytes |
| ``Str(min_len, max_len, pattern, choices)`` | str | ``str`` | characters, fullmatch, choices |
| ``Int(min, max)`` | int | ``int`` (not ``bool``) | range |
| ``Bool()`` | bool | ``bool`` | |
| ``Nested(cls)`` | map | a ``Record`` | that record's fields |
| ``ListOf(item, max_items, min_items)`` | array | ``tuple`` | item count, each item |

Layers add their own specs by subclassing :class:`Spec` (the app layer's text
rules, for example). Types are exact everywhere: ``int`` is not ``bool``,
``bytes`` is not ``str``, no floats.

:func:`read` is the strict, bounded msgpack reader both layers use: the input
length is checked first; msgpack's own string, binary, array and map limits are
set; map keys must be unique strings; ext types are refused; nesting is
bounded. It raises only :class:`~cove.protocol.errors.DecodeError`.
``docs/protocol/codec.md`` is the specification.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import msgpack  # type: ignore[import-untyped]

from ..errors import DecodeError, UsageError

__all__ = [
    "Bool",
    "Bytes",
    "Field",
    "FieldError",
    "Int",
    "ListOf",
    "Nested",
    "ReadLimits",
    "Record",
    "Spec",
    "Str",
    "pack",
    "read",
    "span",
]


class FieldError(Exception):
    """A value breaks its spec; the message names the field (``Cls.field: ...``).

    Internal to the layers: they turn it into ``DecodeError`` (decoding) or
    ``UsageError`` (building a record).
    """


def span(low: int, high: int) -> str:
    """``"16"`` or ``"1..32"``: how bounds appear in messages and docs."""
    return str(low) if low == high else f"{low}..{high}"


class Spec:
    """How one field is checked, loaded from msgpack and dumped to it."""

    __slots__ = ()

    def problem(self, value: object) -> str | None:
        """What is wrong with ``value`` (a Python value of the field), or ``None``."""
        raise NotImplementedError

    def load(self, value: object) -> object:
        """A decoded msgpack value as the field's Python value; :class:`FieldError` if bad."""
        msg = self.problem(value)
        if msg is not None:
            raise FieldError(msg)
        return value

    def dump(self, value: object) -> object:
        """The field's Python value as a msgpack-ready value."""
        return value

    def describe(self) -> str:
        """A short human description (the docs' schema tables)."""
        raise NotImplementedError

    def check(self, value: object, where: str) -> object:
        """:meth:`load`, with a :class:`DecodeError` naming ``where`` on failure."""
        try:
            return self.load(value)
        except FieldError as exc:
            raise DecodeError(f"{where}: {exc}") from None


@dataclass(frozen=True, slots=True)
class Bytes(Spec):
    min_len: int = 0
    max_len: int = 0

    def problem(self, value: object) -> str | None:
        if type(value) is not bytes:
            return "expected bytes"
        if not self.min_len <= len(value) <= self.max_len:
            return f"{len(value)} bytes, not {span(self.min_len, self.max_len)}"
        return None

    def describe(self) -> str:
        return f"bin, {span(self.min_len, self.max_len)} bytes"


@dataclass(frozen=True, slots=True)
class Str(Spec):
    min_len: int = 0
    max_len: int = 0
    pattern: str = ""
    choices: tuple[str, ...] = ()

    def problem(self, value: object) -> str | None:
        if type(value) is not str:
            return "expected a string"
        if not self.min_len <= len(value) <= self.max_len:
            return f"{len(value)} characters, not {span(self.min_len, self.max_len)}"
        if self.pattern and re.fullmatch(self.pattern, value) is None:
            return "not of the allowed form"
        if self.choices and value not in self.choices:
            return f"not one of {', '.join(self.choices)}"
        return None

    def describe(self) -> str:
        if self.choices:
            return "str, one of " + ", ".join(self.choices)
        return f"str, {span(self.min_len, self.max_len)} characters"


@dataclass(frozen=True, slots=True)
class Int(Spec):
    min: int = 0
    max: int = 0

    def problem(self, value: object) -> str | None:
        if type(value) is not int:
            return "expected an integer"
        if not self.min <= value <= self.max:
            return f"{value} not in {span(self.min, self.max)}"
        return None

    def describe(self) -> str:
        return f"int, {span(self.min, self.max)}"


@dataclass(frozen=True, slots=True)
class Bool(Spec):
    def problem(self, value: object) -> str | None:
        return None if type(value) is bool else "expected a boolean"

    def describe(self) -> str:
        return "bool"


@dataclass(frozen=True, slots=True)
class Nested(Spec):
    """A nested record, encoded as its map (no framing keys)."""

    cls: type[Record]

    def problem(self, value: object) -> str | None:
        if type(value) is not self.cls:
            return f"expected a {self.cls.__name__}"
        assert isinstance(value, Record)
        return value.first_problem()

    def load(self, value: object) -> object:
        return self.cls.from_map(value)

    def dump(self, value: object) -> object:
        assert isinstance(value, Record)
        return value.to_map()

    def describe(self) -> str:
        return f"map, {self.cls.__name__}"


@dataclass(frozen=True, slots=True)
class ListOf(Spec):
    """A msgpack array, a ``tuple`` in Python."""

    item: Spec
    max_items: int = 0
    min_items: int = 0

    def _count(self, n: int) -> str | None:
        if not self.min_items <= n <= self.max_items:
            return f"{n} items, not {span(self.min_items, self.max_items)}"
        return None

    def problem(self, value: object) -> str | None:
        if type(value) is not tuple:
            return "expected a tuple"
        msg = self._count(len(value))
        if msg is not None:
            return msg
        for i, v in enumerate(value):
            inner = self.item.problem(v)
            if inner is not None:
                return f"[{i}]: {inner}"
        return None

    def load(self, value: object) -> object:
        if type(value) is not list:
            raise FieldError("expected an array")
        msg = self._count(len(value))
        if msg is not None:
            raise FieldError(msg)
        out = []
        for i, v in enumerate(value):
            try:
                out.append(self.item.load(v))
            except FieldError as exc:
                raise FieldError(f"[{i}]: {exc}") from None
        return tuple(out)

    def dump(self, value: object) -> object:
        assert isinstance(value, tuple)
        return [self.item.dump(v) for v in value]

    def describe(self) -> str:
        return f"array of {self.item.describe()}, {span(self.min_items, self.max_items)} items"


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a record as it appears in the map."""

    name: str
    spec: Spec
    optional: bool


def _join(owner: str, field: str, message: str) -> str:
    # "[0]: DeviceInfo.device_id: ..." from a list item reads "Cls.field[0]: ..."
    sep = "" if message.startswith("[") else ": "
    return f"{owner}.{field}{sep}{message}"


class Record:
    """Base of the frozen dataclasses that are msgpack maps (see the module docstring)."""

    __slots__ = ()
    _fields_cache: ClassVar[dict[type[Record], tuple[Field, ...]]] = {}

    @classmethod
    def fields(cls) -> tuple[Field, ...]:
        """The fields in map order, with their specs."""
        cached = Record._fields_cache.get(cls)
        if cached is not None:
            return cached
        hints = typing.get_type_hints(cls, include_extras=True)
        out = []
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            specs = [m for m in getattr(hints[f.name], "__metadata__", ()) if isinstance(m, Spec)]
            if len(specs) != 1:  # pragma: no cover - programming error
                raise TypeError(f"{cls.__name__}.{f.name} needs exactly one Spec")
            out.append(Field(f.name, specs[0], f.default is None))
        result = tuple(out)
        Record._fields_cache[cls] = result
        return result

    @classmethod
    def schema(cls) -> list[tuple[str, Spec, bool]]:
        """(name, spec, optional) per field, for documentation."""
        return [(f.name, f.spec, f.optional) for f in cls.fields()]

    def first_problem(self) -> str | None:
        """``"Cls.field: ..."`` for the first field whose value breaks its spec, or ``None``."""
        for f in self.fields():
            value = getattr(self, f.name)
            if value is None and f.optional:
                continue
            msg = f.spec.problem(value)
            if msg is not None:
                return _join(type(self).__name__, f.name, msg)
        return None

    def check_fields(self) -> None:
        """:class:`UsageError` naming the first field whose value breaks its spec."""
        msg = self.first_problem()
        if msg is not None:
            raise UsageError(msg)

    def to_map(self) -> dict[str, object]:
        """The record's map (fields in order, ``None`` left out), msgpack-ready."""
        out: dict[str, object] = {}
        for f in self.fields():
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = f.spec.dump(value)
        return out

    @classmethod
    def load_fields(cls, obj: dict[object, object]) -> dict[str, Any]:
        """Check and load the fields of ``obj`` (consumed); :class:`FieldError` on error.

        A missing required field or any key left over (an unknown field) is refused.
        """
        values: dict[str, Any] = {}
        name = cls.__name__
        for f in cls.fields():
            if f.name in obj:
                try:
                    values[f.name] = f.spec.load(obj.pop(f.name))
                except FieldError as exc:
                    raise FieldError(_join(name, f.name, str(exc))) from None
            elif not f.optional:
                raise FieldError(f"{name}: missing field {f.name!r}")
        if obj:
            keys = ", ".join(sorted(repr(k) for k in obj))
            raise FieldError(f"{name}: unknown field {keys}")
        return values

    @classmethod
    def from_map(cls, obj: object) -> Self:
        """The record a decoded map holds; :class:`FieldError` if it does not."""
        if type(obj) is not dict:
            raise FieldError(f"{cls.__name__}: expected a map")
        values = cls.load_fields(dict(obj))
        try:
            return cls(**values)
        except UsageError as exc:  # pragma: no cover - the specs ran already
            raise FieldError(str(exc)) from None


# -- msgpack ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """Bounds of one :func:`read`: input length, map and array entries, nesting depth.

    ``max_depth=None`` leaves nesting to msgpack's own stack limit (the app
    layer, whose specs refuse anything nested where a scalar belongs).
    """

    max_len: int
    max_map: int
    max_array: int
    max_depth: int | None = 8


def _pairs(pairs: list[tuple[object, object]]) -> dict[object, object]:
    out: dict[object, object] = {}
    for k, v in pairs:
        if type(k) is not str:
            raise ValueError("map keys are strings")
        if k in out:
            raise ValueError("duplicate map key")
        out[k] = v
    return out


def _no_ext(code: int, data: bytes) -> object:
    raise ValueError("msgpack ext types are not used")


def _depth_ok(obj: object, depth: int, limit: int) -> bool:
    if depth > limit:
        return False
    if isinstance(obj, dict):
        return all(_depth_ok(v, depth + 1, limit) for v in obj.values())
    if isinstance(obj, list):
        return all(_depth_ok(v, depth + 1, limit) for v in obj)
    return True


def read(
    data: object, limits: ReadLimits, type_name: str, *, trailing: bool = False
) -> tuple[object, int]:
    """One strict, bounded msgpack value from ``data``: ``(value, end offset)``.

    With ``trailing=False`` the value must fill ``data`` exactly; with ``True``
    the caller checks what follows ``end`` (the app layer's padding). Nesting
    deeper than ``limits.max_depth`` (the top-level value is depth 0, a value
    inside it depth 1) is refused. Raises only :class:`DecodeError`.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError("expected bytes", type_name=type_name)
    data = bytes(data)
    n = len(data)
    if n > limits.max_len:
        raise DecodeError(f"{n} bytes over the limit {limits.max_len}", type_name=type_name)
    unpacker = msgpack.Unpacker(
        raw=False,
        strict_map_key=True,
        use_list=True,
        object_pairs_hook=_pairs,
        ext_hook=_no_ext,
        max_buffer_size=max(n, 1),
        max_str_len=n,
        max_bin_len=n,
        max_array_len=limits.max_array,
        max_map_len=limits.max_map,
        max_ext_len=0,
    )
    try:
        unpacker.feed(data)
        obj: object = unpacker.unpack()
        end: int = unpacker.tell()
    except (ValueError, TypeError, OverflowError, msgpack.UnpackException) as exc:
        raise DecodeError(f"not valid msgpack: {type(exc).__name__}", type_name=type_name) from None
    if not trailing and end != n:
        raise DecodeError("not valid msgpack: ExtraData", type_name=type_name, offset=end)
    if limits.max_depth is not None and not _depth_ok(obj, 0, limits.max_depth):
        raise DecodeError("nested too deeply", type_name=type_name)
    return obj, end


def pack(obj: object, type_name: str) -> bytes:
    """``obj`` as msgpack (shortest forms, ``bin`` for bytes); :class:`UsageError` if it cannot."""
    try:
        packed: bytes = msgpack.packb(obj, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:  # pragma: no cover - specs ran
        raise UsageError(f"{type_name}: cannot encode ({type(exc).__name__})") from None
    return packed
