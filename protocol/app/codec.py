"""Field specs, padding and the strict msgpack reader behind app records.

A record is a frozen dataclass whose fields carry a spec::

    body: Annotated[str, Text("body")]
    reply_to: Annotated[bytes | None, Blob("id")] = None

Specs are checked twice: when a record is built (a bad value raises
:class:`~cove.protocol.errors.UsageError`, so an invalid record cannot exist)
and when one is decoded (:class:`~cove.protocol.errors.DecodeError`). Bounds
come from :mod:`.limits`. Types are exact: ``bool`` is not ``int``, ``str`` is
not ``bytes``, no floats, no ``nil`` (an absent optional field is left out of
the map, never written as ``nil``).
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Self

import msgpack  # type: ignore[import-untyped]

from ..crypto.stream import padded_length
from ..errors import DecodeError, UsageError
from .limits import PADDING_MIN, RECORD_MAX, Limit, limit

#: Longest map (a record has at most 10 keys) and array msgpack may build.
_MAX_MAP: Final = 32
_MAX_ARRAY: Final = 64

# C0 controls other than TAB, LF and CR, and DEL: refused in every string.
_BAD_TEXT: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# One-line strings also refuse TAB, LF, CR, the C1 controls and U+2028/U+2029.
_BAD_LINE: Final = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# File names also refuse path separators and the bidirectional controls that
# can disguise an extension ("invoice\u202efdp.exe").
_BAD_FILE_NAME: Final = re.compile("[/\\\\\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# RFC 6838 restricted names, lower case, no parameters.
_MEDIA_TYPE: Final = re.compile(
    r"[a-z0-9][a-z0-9!#$&^_.+-]{0,124}/[a-z0-9][a-z0-9!#$&^_.+-]{0,124}", re.ASCII
)


_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_FALLBACK_NAME: Final = "attachment"
_FALLBACK_MEDIA_TYPE: Final = "application/octet-stream"


def clean_file_name(name: str) -> str:
    """A file name that ``AttachmentRef`` accepts, made from any string.

    Keeps the last path component, drops characters a file name may not
    carry (controls, bidirectional controls, separators, lone surrogates),
    trims spaces and cuts the name to 255 UTF-8 bytes, keeping a short
    extension. Falls back to ``"attachment"``.
    """
    if type(name) is not str:
        raise UsageError("a file name is a string")
    base = re.split(r"[/\\]", name)[-1]
    for bad in (_BAD_LINE, _BAD_FILE_NAME, _SURROGATE):
        base = bad.sub("", base)
    base = base.strip()
    if base in ("", ".", ".."):
        return _FALLBACK_NAME
    lim = limit("file_name").maximum
    stem, dot, ext = base.rpartition(".")
    if not dot or not stem or len(ext.encode("utf-8")) > 16:
        stem, ext = base, ""
    suffix = ("." + ext if ext else "").encode("utf-8")
    cut = stem.encode("utf-8")[: lim - len(suffix)].decode("utf-8", "ignore")
    out = (cut + suffix.decode("utf-8")).strip()
    return out if out not in ("", ".", "..") else _FALLBACK_NAME


def clean_media_type(value: str | None) -> str:
    """``value`` lower-cased without parameters if ``AttachmentRef`` accepts it,
    else ``"application/octet-stream"``."""
    if type(value) is not str:
        return _FALLBACK_MEDIA_TYPE
    candidate = value.split(";", 1)[0].strip().lower()
    if Text("media_type", "media_type").problem(candidate) is None:
        return candidate
    return _FALLBACK_MEDIA_TYPE


def padded_size(length: int) -> int:
    """Length of a record whose msgpack map is ``length`` bytes, after padding.

    At least 512 bytes, then rounded up to a number with at most three
    significant bits (see :func:`~cove.protocol.crypto.stream.padded_length`).
    """
    return padded_length(length, PADDING_MIN)


class Spec:
    """How one field is checked; :meth:`problem` names what is wrong, or ``None``."""

    __slots__ = ()

    def problem(self, value: object) -> str | None:
        raise NotImplementedError

    def load(self, value: object) -> object:
        """Check a decoded value (raising ``_Bad``) and convert it to the field's type."""
        msg = self.problem(value)
        if msg is not None:
            raise _Bad(msg)
        return value

    def dump(self, value: object) -> object:
        return value

    def describe(self) -> str:
        raise NotImplementedError


class _Bad(Exception):
    """A field check failed; turned into UsageError or DecodeError by the caller."""


@dataclass(frozen=True, slots=True)
class Blob(Spec):
    """Bytes of exactly the length of limit row ``row``."""

    row: str

    def problem(self, value: object) -> str | None:
        lim = limit(self.row)
        if type(value) is not bytes:
            return "expected bytes"
        if not lim.minimum <= len(value) <= lim.maximum:
            return f"{len(value)} bytes, not {_range(lim)}"
        return None

    def describe(self) -> str:
        return f"bin, {_range(limit(self.row))} bytes"


@dataclass(frozen=True, slots=True)
class Text(Spec):
    """A UTF-8 string, its byte length bounded by limit row ``row``.

    ``kind``: ``"text"`` (may span lines), ``"line"`` (one line),
    ``"file_name"`` or ``"media_type"``.
    """

    row: str
    kind: str = "text"

    def problem(self, value: object) -> str | None:
        lim = limit(self.row)
        if type(value) is not str:
            return "expected a string"
        if len(value) > lim.maximum:  # characters <= bytes: a cheap early refusal
            return f"over the limit of {lim.maximum} bytes"
        try:
            n = len(value.encode("utf-8"))
        except UnicodeEncodeError:
            return "not valid Unicode (lone surrogate)"
        if not lim.minimum <= n <= lim.maximum:
            return f"{n} bytes, not {_range(lim)}"
        if self.kind == "media_type":
            return None if _MEDIA_TYPE.fullmatch(value) else "not a media type"
        bad = _BAD_TEXT if self.kind == "text" else _BAD_LINE
        if bad.search(value):
            return "contains a control character"
        if self.kind == "file_name" and (_BAD_FILE_NAME.search(value) or value in (".", "..")):
            return "not a plain file name"
        return None

    def describe(self) -> str:
        return f"str ({self.kind}), {_range(limit(self.row))} UTF-8 bytes"


@dataclass(frozen=True, slots=True)
class UInt(Spec):
    """An integer within limit row ``row``."""

    row: str

    def problem(self, value: object) -> str | None:
        lim = limit(self.row)
        if type(value) is not int:
            return "expected an integer"
        if not lim.minimum <= value <= lim.maximum:
            return f"not in {_range(lim)}"
        return None

    def describe(self) -> str:
        return f"int, {_range(limit(self.row))}"


@dataclass(frozen=True, slots=True)
class Flag(Spec):
    def problem(self, value: object) -> str | None:
        return None if type(value) is bool else "expected a boolean"

    def describe(self) -> str:
        return "bool"


@dataclass(frozen=True, slots=True)
class ListOf(Spec):
    """A tuple of ``item`` structs (a msgpack array of maps), bounded by row ``row``."""

    item: type[Struct]
    row: str

    def problem(self, value: object) -> str | None:
        lim = limit(self.row)
        if type(value) is not tuple:
            return "expected a tuple"
        if not lim.minimum <= len(value) <= lim.maximum:
            return f"{len(value)} items, not {_range(lim)}"
        if not all(type(v) is self.item for v in value):
            return f"items must be {self.item.__name__}"
        return None

    def load(self, value: object) -> object:
        lim = limit(self.row)
        if type(value) is not list:
            raise _Bad("expected an array")
        if not lim.minimum <= len(value) <= lim.maximum:
            raise _Bad(f"{len(value)} items, not {_range(lim)}")
        return tuple(self.item._from_map(v) for v in value)

    def dump(self, value: object) -> object:
        assert isinstance(value, tuple)
        return [v._to_map() for v in value]

    def describe(self) -> str:
        return f"array of {self.item.__name__}, {_range(limit(self.row))} items"


def _range(lim: Limit) -> str:
    if lim.minimum == lim.maximum:
        return str(lim.minimum)
    return f"{lim.minimum}..{lim.maximum}"


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a struct as it appears in the map."""

    name: str
    spec: Spec
    optional: bool


class Struct:
    """Base of app structs: field checks on construction, map conversion."""

    __slots__ = ()
    _fields_cache: ClassVar[dict[type[Struct], tuple[Field, ...]]] = {}

    @classmethod
    def fields(cls) -> tuple[Field, ...]:
        """The fields in map order, with their specs."""
        cached = Struct._fields_cache.get(cls)
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
        Struct._fields_cache[cls] = result
        return result

    def __post_init__(self) -> None:
        for f in self.fields():
            value = getattr(self, f.name)
            if value is None and f.optional:
                continue
            msg = f.spec.problem(value)
            if msg is not None:
                raise UsageError(f"{type(self).__name__}.{f.name}: {msg}")

    def _to_map(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for f in self.fields():
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = f.spec.dump(value)
        return out

    @classmethod
    def _load_fields(cls, obj: dict[object, object]) -> dict[str, Any]:
        """Check and convert the fields of ``obj`` (consumed); ``_Bad`` on error."""
        values: dict[str, Any] = {}
        for f in cls.fields():
            if f.name in obj:
                try:
                    values[f.name] = f.spec.load(obj.pop(f.name))
                except _Bad as exc:
                    raise _Bad(f"{cls.__name__}.{f.name}: {exc}") from None
            elif not f.optional:
                raise _Bad(f"{cls.__name__}: missing field {f.name!r}")
        if obj:
            raise _Bad(f"{cls.__name__}: unknown field")
        return values

    @classmethod
    def _from_map(cls, obj: object) -> Self:
        if type(obj) is not dict:
            raise _Bad(f"{cls.__name__}: expected a map")
        values = cls._load_fields(dict(obj))
        try:
            return cls(**values)
        except UsageError as exc:  # pragma: no cover - the specs ran already
            raise _Bad(str(exc)) from None


# -- msgpack ------------------------------------------------------------------


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


def pack(obj: dict[str, object], type_name: str) -> bytes:
    """``obj`` as msgpack, zero-padded to :func:`padded_size`; UsageError if too big."""
    try:
        packed: bytes = msgpack.packb(obj, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:  # pragma: no cover - specs ran
        raise UsageError(f"{type_name}: cannot encode ({type(exc).__name__})") from None
    size = padded_size(len(packed))
    if size > RECORD_MAX:
        raise UsageError(f"{type_name}: {len(packed)} bytes, over the record limit {RECORD_MAX}")
    return packed + bytes(size - len(packed))


def unpack(data: object, type_name: str) -> dict[object, object]:
    """Strip and check the padding, then read one bounded, strict msgpack map."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError("expected bytes", type_name=type_name)
    data = bytes(data)
    n = len(data)
    if not PADDING_MIN <= n <= RECORD_MAX:
        raise DecodeError(f"{n} bytes, not {PADDING_MIN}..{RECORD_MAX}", type_name=type_name)
    unpacker = msgpack.Unpacker(
        raw=False,
        strict_map_key=True,
        use_list=True,
        object_pairs_hook=_pairs,
        ext_hook=_no_ext,
        max_buffer_size=n,
        max_str_len=n,
        max_bin_len=n,
        max_array_len=_MAX_ARRAY,
        max_map_len=_MAX_MAP,
        max_ext_len=0,
    )
    try:
        unpacker.feed(data)
        obj: object = unpacker.unpack()
        end: int = unpacker.tell()
    except (ValueError, TypeError, OverflowError, msgpack.UnpackException) as exc:
        raise DecodeError(f"not valid msgpack: {type(exc).__name__}", type_name=type_name) from None
    if type(obj) is not dict:
        raise DecodeError("expected a map", type_name=type_name, offset=0)
    if data.count(0, end) != n - end:
        raise DecodeError("padding is not zero", type_name=type_name, offset=end)
    if padded_size(end) != n:
        raise DecodeError("wrong padding length", type_name=type_name, offset=end)
    return obj


__all__ = [
    "Blob",
    "Field",
    "Flag",
    "ListOf",
    "Spec",
    "Struct",
    "Text",
    "UInt",
    "clean_file_name",
    "clean_media_type",
    "pack",
    "padded_size",
    "unpack",
]
