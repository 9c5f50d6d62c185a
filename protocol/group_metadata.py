"""The group's name and kind, inside the encrypted MLS group state.

Cove keeps a group's name and description in a GroupContext extension of
private-use type ``0xF0C0`` (RFC 9420 §13, §17.3 "reserved for private use"),
so every member — including one who joins later from a Welcome, whose
GroupInfo is encrypted — learns them, and the relay never does. Renaming is a
GroupContextExtensions commit. Every Cove leaf lists ``0xF0C0`` in its
capabilities. Payload (TLS encoding)::

    struct {
        uint8 kind;                 /* 0 = group, 1 = private conversation (2 members) */
        opaque name<V>;             /* UTF-8, at most 200 bytes */
        opaque description<V>;      /* UTF-8, at most 2000 bytes */
    } CoveGroupMetadata;

A group's name is 1 to 200 bytes on one line (no control characters); a private
conversation has no name (0 bytes: members see the other member's handle).
:meth:`GroupMetadata.validate` checks this; :meth:`~GroupMetadata.extension`
(sending) and :meth:`~GroupMetadata.from_extensions` (receiving) call it, and the
policy refuses a commit that sets a payload breaking it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from .codec import Reader, Writer
from .errors import DecodeError, UsageError
from .mls.extensions import Extension, find_extension

GROUP_METADATA_EXTENSION = 0xF0C0
MAX_NAME = 200
MAX_DESCRIPTION = 2000


class GroupKind(IntEnum):
    GROUP = 0
    DIRECT = 1


@dataclass(frozen=True, slots=True)
class GroupMetadata:
    kind: GroupKind
    name: str
    description: str = ""

    def __post_init__(self) -> None:
        if len(self.name.encode()) > MAX_NAME or len(self.description.encode()) > MAX_DESCRIPTION:
            raise UsageError("group name or description too long")

    def validate(self) -> GroupMetadata:
        """This metadata if it keeps the rules above, else UsageError saying which."""
        if self.kind == GroupKind.DIRECT:
            if self.name:
                raise UsageError("a private conversation has no name")
        elif not self.name:
            raise UsageError("a group needs a name")
        elif any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in self.name):
            raise UsageError("a group's name is one line, without control characters")
        return self

    def extension(self) -> Extension:
        self.validate()
        w = Writer()
        w.uint8(self.kind)
        w.opaque(self.name.encode())
        w.opaque(self.description.encode())
        return Extension(GROUP_METADATA_EXTENSION, w.getvalue())

    @classmethod
    def from_extensions(cls, extensions: tuple[Extension, ...]) -> GroupMetadata | None:
        ext = find_extension(extensions, GROUP_METADATA_EXTENSION)
        if ext is None:
            return None
        r = Reader(ext.extension_data, type_name="CoveGroupMetadata")
        kind = r.uint8()
        if kind > 1:
            raise r.error("unknown group kind")
        raw_name, raw_desc = r.opaque(MAX_NAME), r.opaque(MAX_DESCRIPTION)
        r.expect_end()
        try:
            return cls(GroupKind(kind), raw_name.decode(), raw_desc.decode()).validate()
        except UnicodeDecodeError:
            raise DecodeError(
                "group metadata is not UTF-8", type_name="CoveGroupMetadata"
            ) from None
        except UsageError as exc:
            raise DecodeError(str(exc), type_name="CoveGroupMetadata") from None
