"""Field specs and the strict msgpack codec behind every Cove envelope.

An envelope is a frozen dataclass whose fields are annotated with a spec::

    group_id: Annotated[bytes, Bytes(16, 32)]
    seq: Annotated[int, Int(0, SEQ_MAX)]
    welcome: Annotated[bytes | None, Bytes(0, WELCOME)] = None

On the wire it is one msgpack map with string keys: ``"v"`` (the wire version)
first, then the fields in declaration order; a field whose value is ``None`` is
left out. Decoding is strict and bounded:

- the input length is checked before msgpack sees it; msgpack's own limits
  (string, binary, array and map lengths, no ext types, depth) are set;
- map keys must be strings and unique; unknown keys are refused;
- types are exact: ``int`` is not ``bool``, ``bytes`` is not ``str``, no floats;
- every value is checked against its spec (length, range, pattern, choices).

Anything wrong raises :class:`~cove.protocol.errors.DecodeError` (or its
subclass :class:`WireVersionError`); no other exception escapes ``decode``.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import msgpack  # type: ignore[import-untyped]

from ..errors import DecodeError
from .version import WIRE_VERSION

#: Bounds for msgpack itself; the specs below are tighter.
_MAX_CONTAINER = 1024
_MAX_DEPTH = 8


class WireVersionError(DecodeError):
    """The envelope carries a wire version this code does not speak."""


class Spec:
    """How one field is checked."""

    __slots__ = ()

    def check(self, value: object, where: str) -> object:
        raise NotImplementedError

    def dump(self, value: object) -> object:
        return value


@dataclass(frozen=True, slots=True)
class Bytes(Spec):
    min_len: int = 0
    max_len: int = 0

    def check(self, value: object, where: str) -> object:
        if type(value) is not bytes:
            raise DecodeError(f"{where}: expected bytes")
        if not self.min_len <= len(value) <= self.max_len:
            raise DecodeError(f"{where}: length {len(value)} not in {self.min_len}..{self.max_len}")
        return value


@dataclass(frozen=True, slots=True)
class Str(Spec):
    min_len: int = 0
    max_len: int = 0
    pattern: str = ""
    choices: tuple[str, ...] = ()

    def check(self, value: object, where: str) -> object:
        if type(value) is not str:
            raise DecodeError(f"{where}: expected a string")
        if not self.min_len <= len(value) <= self.max_len:
            raise DecodeError(f"{where}: length not in {self.min_len}..{self.max_len}")
        if self.pattern and re.fullmatch(self.pattern, value) is None:
            raise DecodeError(f"{where}: not of the allowed form")
        if self.choices and value not in self.choices:
            raise DecodeError(f"{where}: not one of {', '.join(self.choices)}")
        return value


@dataclass(frozen=True, slots=True)
class Int(Spec):
    min: int = 0
    max: int = 0

    def check(self, value: object, where: str) -> object:
        if type(value) is not int:
            raise DecodeError(f"{where}: expected an integer")
        if not self.min <= value <= self.max:
            raise DecodeError(f"{where}: {value} not in {self.min}..{self.max}")
        return value


@dataclass(frozen=True, slots=True)
class Bool(Spec):
    def check(self, value: object, where: str) -> object:
        if type(value) is not bool:
            raise DecodeError(f"{where}: expected a boolean")
        return value


@dataclass(frozen=True, slots=True)
class Nested(Spec):
    """A nested envelope (encoded as a map without its own ``"v"``)."""

    cls: type[Envelope]

    def check(self, value: object, where: str) -> object:
        return self.cls._from_map(value, where, versioned=False)

    def dump(self, value: object) -> object:
        assert isinstance(value, Envelope)
        return value._to_map(versioned=False)


@dataclass(frozen=True, slots=True)
class ListOf(Spec):
    """A msgpack array decoded to a tuple."""

    item: Spec
    max_items: int = 0
    min_items: int = 0

    def check(self, value: object, where: str) -> object:
        if type(value) is not list:
            raise DecodeError(f"{where}: expected an array")
        if not self.min_items <= len(value) <= self.max_items:
            raise DecodeError(
                f"{where}: {len(value)} items not in {self.min_items}..{self.max_items}"
            )
        return tuple(self.item.check(v, f"{where}[{i}]") for i, v in enumerate(value))

    def dump(self, value: object) -> object:
        assert isinstance(value, tuple)
        return [self.item.dump(v) for v in value]


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    spec: Spec
    optional: bool


def _pairs(pairs: list[tuple[object, object]]) -> dict[object, object]:
    out: dict[object, object] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError("duplicate map key")
        out[k] = v
    return out


def _depth_ok(obj: object, depth: int) -> bool:
    if depth > _MAX_DEPTH:
        return False
    if isinstance(obj, dict):
        return all(_depth_ok(v, depth + 1) for v in obj.values())
    if isinstance(obj, list):
        return all(_depth_ok(v, depth + 1) for v in obj)
    return True


def unpack(data: bytes, max_len: int, type_name: str) -> object:
    """Bounded, strict ``msgpack.unpackb``; raises only ``DecodeError``."""
    if type(data) is not bytes:
        raise DecodeError("expected bytes", type_name=type_name)
    if len(data) > max_len:
        raise DecodeError(f"{len(data)} bytes over the limit {max_len}", type_name=type_name)
    try:
        obj: object = msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            use_list=True,
            object_pairs_hook=_pairs,
            max_str_len=max_len,
            max_bin_len=max_len,
            max_array_len=min(max_len, _MAX_CONTAINER),
            max_map_len=min(max_len, _MAX_CONTAINER),
            max_ext_len=0,
        )
    except (ValueError, TypeError, OverflowError, msgpack.UnpackException) as exc:
        raise DecodeError(f"not valid msgpack: {type(exc).__name__}", type_name=type_name) from None
    if not _depth_ok(obj, 0):
        raise DecodeError("nested too deeply", type_name=type_name)
    return obj


class Envelope:
    """Base of the frozen dataclasses exchanged with the relay."""

    __slots__ = ()
    _fields_cache: ClassVar[dict[type[Envelope], tuple[_Field, ...]]] = {}
    #: Largest encoding accepted by :meth:`decode`.
    MAX_BYTES: ClassVar[int] = 512 * 1024

    @classmethod
    def _fields(cls) -> tuple[_Field, ...]:
        cached = Envelope._fields_cache.get(cls)
        if cached is not None:
            return cached
        hints = typing.get_type_hints(cls, include_extras=True)
        out = []
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            hint = hints[f.name]
            specs = [m for m in getattr(hint, "__metadata__", ()) if isinstance(m, Spec)]
            if len(specs) != 1:  # pragma: no cover - programming error
                raise TypeError(f"{cls.__name__}.{f.name} needs exactly one Spec")
            out.append(_Field(f.name, specs[0], f.default is None))
        result = tuple(out)
        Envelope._fields_cache[cls] = result
        return result

    def _to_map(self, *, versioned: bool) -> dict[str, object]:
        out: dict[str, object] = {"v": WIRE_VERSION} if versioned else {}
        for f in self._fields():
            value = getattr(self, f.name)
            if value is None:
                continue
            out[f.name] = f.spec.dump(value)
        return out

    @classmethod
    def _from_map(cls, obj: object, where: str, *, versioned: bool) -> Self:
        if type(obj) is not dict:
            raise DecodeError(f"{where}: expected a map", type_name=cls.__name__)
        remaining = dict(obj)
        if versioned:
            if "v" not in remaining:
                raise DecodeError("missing wire version", type_name=cls.__name__)
            version = remaining.pop("v")
            if type(version) is not int or version != WIRE_VERSION:
                raise WireVersionError(f"wire version {version!r}", type_name=cls.__name__)
        values: dict[str, Any] = {}
        for f in cls._fields():
            if f.name in remaining:
                raw = remaining.pop(f.name)
                try:
                    values[f.name] = f.spec.check(raw, f"{where}.{f.name}")
                except DecodeError as exc:
                    raise DecodeError(str(exc), type_name=cls.__name__) from None
            elif not f.optional:
                raise DecodeError(f"{where}: missing field {f.name!r}", type_name=cls.__name__)
        if remaining:
            names = ", ".join(sorted(repr(k) for k in remaining))
            raise DecodeError(f"{where}: unknown field {names}", type_name=cls.__name__)
        return cls(**values)

    def encode(self) -> bytes:
        """The envelope as msgpack bytes."""
        packed: bytes = msgpack.packb(self._to_map(versioned=True), use_bin_type=True)
        return packed

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """Decode and check; raises :class:`DecodeError` on anything wrong."""
        obj = unpack(data, cls.MAX_BYTES, cls.__name__)
        return cls._from_map(obj, cls.__name__, versioned=True)

    @classmethod
    def schema(cls) -> list[tuple[str, Spec, bool]]:
        """(name, spec, optional) per field, for documentation."""
        return [(f.name, f.spec, f.optional) for f in cls._fields()]


__all__ = [
    "Bool",
    "Bytes",
    "Envelope",
    "Int",
    "ListOf",
    "Nested",
    "Spec",
    "Str",
    "WireVersionError",
    "unpack",
]
