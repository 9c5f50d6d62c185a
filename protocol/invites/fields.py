"""Bounded text and key fields shared by the invite structs (TLS encoding).

Strings are ``opaque<V>`` holding UTF-8. Two kinds, as in app content:

* ``line`` (names, handles, questions): no C0 or C1 controls, no DEL, no U+2028/U+2029;
* ``text`` (descriptions, rules, answers, messages): no C0 controls other than
  TAB, LF and CR, no DEL.

Lengths are UTF-8 bytes. :func:`read_text` raises the reader's
:class:`~cove.protocol.errors.DecodeError`; :func:`check_text` raises
:class:`~cove.protocol.errors.UsageError` for values an encoder is given.
"""

from __future__ import annotations

import re
from typing import Final, Literal

from ..codec import Reader, Writer
from ..errors import UsageError

_BAD_TEXT: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BAD_LINE: Final = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")

Kind = Literal["line", "text"]


def text_problem(value: object, max_bytes: int, kind: Kind, min_bytes: int = 0) -> str | None:
    if type(value) is not str:
        return "expected a string"
    try:
        n = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return "not valid Unicode"
    if not min_bytes <= n <= max_bytes:
        return f"{n} bytes, not {min_bytes}..{max_bytes}"
    if (_BAD_LINE if kind == "line" else _BAD_TEXT).search(value):
        return "contains a control character"
    return None


def check_text(name: str, value: object, max_bytes: int, kind: Kind, min_bytes: int = 0) -> None:
    problem = text_problem(value, max_bytes, kind, min_bytes)
    if problem is not None:
        raise UsageError(f"{name}: {problem}")


def check_bytes(name: str, value: object, length: int) -> None:
    if type(value) is not bytes or len(value) != length:
        raise UsageError(f"{name}: expected {length} bytes")


def check_uint(name: str, value: object, maximum: int, minimum: int = 0) -> None:
    if type(value) is not int or not minimum <= value <= maximum:
        raise UsageError(f"{name}: expected an integer in {minimum}..{maximum}")


def write_text(w: Writer, value: str) -> None:
    w.opaque(value.encode("utf-8"))


def read_text(r: Reader, name: str, max_bytes: int, kind: Kind, min_bytes: int = 0) -> str:
    raw = r.opaque(max_bytes)
    try:
        value = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise r.error(f"{name} is not UTF-8") from None
    problem = text_problem(value, max_bytes, kind, min_bytes)
    if problem is not None:
        raise r.error(f"{name}: {problem}")
    return value


def read_key(r: Reader, name: str, length: int) -> bytes:
    """``opaque<V>`` of exactly ``length`` bytes."""
    raw = r.opaque(length)
    if len(raw) != length:
        raise r.error(f"{name} must be {length} bytes")
    return raw


U32_MAX: Final = 0xFFFFFFFF
U64_MAX: Final = 0xFFFFFFFFFFFFFFFF
#: Time fields are seconds since the Unix epoch, bounded like app content's ``sent_at``.
TIME_MAX: Final = (1 << 53) - 1

__all__ = [
    "TIME_MAX",
    "U32_MAX",
    "U64_MAX",
    "check_bytes",
    "check_text",
    "check_uint",
    "read_key",
    "read_text",
    "text_problem",
    "write_text",
]
