"""App records on the one msgpack schema engine: specs by limit row, text rules, padding.

The engine (:mod:`cove.protocol.codec.schema`) provides the record machinery,
the generic specs and the strict reader. This layer adds what is particular to
app records:

* specs whose bounds are rows of :mod:`.limits` (:class:`Blob`, :class:`UInt`,
  :class:`ListOf` of structs) and :class:`Text`, whose length is counted in
  UTF-8 bytes and which refuses control characters by kind;
* checks at construction: a :class:`Struct` with a bad value raises
  :class:`~cove.protocol.errors.UsageError`, so an invalid record cannot exist;
* padding (:func:`pack`, :func:`unpack`, :func:`padded_size`).

A record is built like::

    body: Annotated[str, Text("body")]
    reply_to: Annotated[bytes | None, Blob("id")] = None

Types are exact: ``bool`` is not ``int``, ``str`` is not ``bytes``, no floats,
no ``nil`` (an absent optional field is left out of the map, never written as
``nil``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Final

from ..codec import schema as engine
from ..codec.schema import Field, FieldError, ReadLimits, Record, Spec, span
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


@dataclass(frozen=True, slots=True)
class Blob(Spec):
    """Bytes of a length within limit row ``row``."""

    row: str

    def problem(self, value: object) -> str | None:
        return _bytes(self.row).problem(value)

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
        return _int(self.row).problem(value)

    def describe(self) -> str:
        return f"int, {_range(limit(self.row))}"


@dataclass(frozen=True, slots=True)
class Flag(Spec):
    def problem(self, value: object) -> str | None:
        return engine.Bool().problem(value)

    def describe(self) -> str:
        return "bool"


@dataclass(frozen=True, slots=True)
class ListOf(Spec):
    """A tuple of ``item`` structs (a msgpack array of maps), bounded by row ``row``."""

    item: type[Struct]
    row: str

    def _engine(self) -> engine.ListOf:
        return _list(self.item, self.row)

    def problem(self, value: object) -> str | None:
        return self._engine().problem(value)

    def load(self, value: object) -> object:
        return self._engine().load(value)

    def dump(self, value: object) -> object:
        return self._engine().dump(value)

    def describe(self) -> str:
        return f"array of {self.item.__name__}, {_range(limit(self.row))} items"


def _range(lim: Limit) -> str:
    return span(lim.minimum, lim.maximum)


# The engine specs behind the row-bound ones (the limits table is fixed).
@cache
def _bytes(row: str) -> engine.Bytes:
    lim = limit(row)
    return engine.Bytes(lim.minimum, lim.maximum)


@cache
def _int(row: str) -> engine.Int:
    lim = limit(row)
    return engine.Int(lim.minimum, lim.maximum)


_LISTS: dict[tuple[type[Struct], str], engine.ListOf] = {}


def _list(item: type[Struct], row: str) -> engine.ListOf:
    spec = _LISTS.get((item, row))
    if spec is None:
        lim = limit(row)
        spec = _LISTS[(item, row)] = engine.ListOf(engine.Nested(item), lim.maximum, lim.minimum)
    return spec


class Struct(Record):
    """Base of app structs: every field is checked when the struct is built."""

    __slots__ = ()

    def __post_init__(self) -> None:
        self.check_fields()


# -- msgpack ------------------------------------------------------------------

#: The reader's bounds for one record (a record has at most 10 keys).
_LIMITS: Final = ReadLimits(RECORD_MAX, _MAX_MAP, _MAX_ARRAY, max_depth=None)


def pack(obj: dict[str, object], type_name: str) -> bytes:
    """``obj`` as msgpack, zero-padded to :func:`padded_size`; UsageError if too big."""
    packed = engine.pack(obj, type_name)
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
    obj, end = engine.read(data, _LIMITS, type_name, trailing=True)
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
    "FieldError",
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
