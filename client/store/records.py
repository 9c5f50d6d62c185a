"""Typed, versioned values for the store's rows.

Every value the client keeps in a collection is one :class:`StoreRecord`: a
msgpack map ::

    {"k": KIND, "v": VERSION, <field>: <value>, ...}

``k`` names the record type (an outbox entry's ``k`` says which kind of entry
it is: a tagged union), ``v`` its version; the other keys are the dataclass
fields, checked on the way in by the specs of :mod:`cove.protocol.wire.schema`
(``Bytes``, ``Str``, ``Int``, ``Bool``, ``ListOf``) and :class:`Sub` for a
nested record. A field whose value is ``None`` is left out. Decoding is strict
and bounded; anything wrong (also a version newer than this code) raises
:class:`~cove.client.store.errors.StoreCorrupted`. The module that owns a
collection owns its record class; ``docs/client/local-store.md`` §14 lists them.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar

import msgpack  # type: ignore[import-untyped]

from cove.protocol.errors import DecodeError
from cove.protocol.wire.schema import Int, Spec, unpack

from .errors import StoreCorrupted

__all__ = ["FORMAT", "FormatRecord", "StoreRecord", "Sub", "unpack_union"]

R = TypeVar("R", bound="StoreRecord")


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    spec: Spec
    optional: bool


class StoreRecord:
    """Base of the typed store values (subclasses are dataclasses)."""

    __slots__ = ()
    KIND: ClassVar[str]
    VERSION: ClassVar[int] = 1
    #: Largest encoding accepted (a group's state can be megabytes).
    MAX_BYTES: ClassVar[int] = 1 << 20
    _cache: ClassVar[dict[type, tuple[_Field, ...]]] = {}

    @classmethod
    def fields_spec(cls) -> tuple[_Field, ...]:
        cached = StoreRecord._cache.get(cls)
        if cached is None:
            hints = typing.get_type_hints(cls, include_extras=True)
            out = []
            for f in dataclasses.fields(cls):  # type: ignore[arg-type]
                specs = [
                    m for m in getattr(hints[f.name], "__metadata__", ()) if isinstance(m, Spec)
                ]
                if len(specs) != 1:  # pragma: no cover - programming error
                    raise TypeError(f"{cls.__name__}.{f.name} needs exactly one Spec")
                out.append(_Field(f.name, specs[0], f.default is None))
            cached = StoreRecord._cache[cls] = tuple(out)
        return cached

    def to_map(self, *, tagged: bool = True) -> dict[str, object]:
        out: dict[str, object] = {"k": self.KIND, "v": self.VERSION} if tagged else {}
        for f in self.fields_spec():
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = f.spec.dump(value)
        return out

    def pack(self) -> bytes:
        return bytes(msgpack.packb(self.to_map(), use_bin_type=True))

    @classmethod
    def from_map(cls, obj: object, *, tagged: bool = True) -> Self:
        if type(obj) is not dict:
            raise StoreCorrupted(f"a stored {cls.KIND} record is not a map")
        rest = dict(obj)
        if tagged:
            if rest.pop("k", None) != cls.KIND:
                raise StoreCorrupted(f"a stored record is not a {cls.KIND} record")
            version = rest.pop("v", None)
            if type(version) is not int or not 1 <= version <= cls.VERSION:
                raise StoreCorrupted(
                    f"a stored {cls.KIND} record has version {version!r}; "
                    f"this Cove reads up to {cls.VERSION}"
                )
        values: dict[str, Any] = {}
        try:
            for f in cls.fields_spec():
                if f.name in rest:
                    values[f.name] = f.spec.check(rest.pop(f.name), f"{cls.KIND}.{f.name}")
                elif not f.optional:
                    raise DecodeError(f"{cls.KIND}: missing field {f.name!r}")
        except DecodeError as exc:
            raise StoreCorrupted(f"a stored record is damaged: {exc}") from None
        if rest:
            raise StoreCorrupted(f"a stored {cls.KIND} record has unknown fields")
        return cls(**values)

    @classmethod
    def unpack(cls, data: bytes) -> Self:
        return cls.from_map(_load(data, cls.MAX_BYTES, cls.KIND))


def _load(data: bytes, max_bytes: int, what: str) -> object:
    try:
        return unpack(data, max_bytes, what)
    except DecodeError as exc:
        raise StoreCorrupted(f"a stored {what} record is damaged: {exc}") from None


def unpack_union(data: bytes, classes: typing.Sequence[type[R]]) -> R:
    """Decode a record of one of ``classes``, chosen by its ``k`` (a tagged union)."""
    by_kind = {c.KIND: c for c in classes}
    obj = _load(data, max(c.MAX_BYTES for c in classes), "/".join(by_kind))
    kind = obj.get("k") if isinstance(obj, dict) else None
    cls = by_kind.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise StoreCorrupted(f"a stored record has an unknown kind {kind!r}")
    return cls.from_map(obj)


@dataclass(frozen=True, slots=True)
class Sub(Spec):
    """A nested record (a map without ``k``/``v``)."""

    cls: type[StoreRecord]

    def check(self, value: object, where: str) -> object:
        try:
            return self.cls.from_map(value, tagged=False)
        except StoreCorrupted as exc:
            raise DecodeError(f"{where}: {exc}") from None

    def dump(self, value: object) -> object:
        assert isinstance(value, StoreRecord)
        return value.to_map(tagged=False)


#: The store's record format: 1 = positional msgpack lists and untyped maps (until
#: December 2026), 2 = the typed records of this module. Kept in ("meta", b"format").
FORMAT = 2


@dataclass(slots=True)
class FormatRecord(StoreRecord):
    KIND: ClassVar[str] = "format"
    format: typing.Annotated[int, Int(1, 1 << 16)]
