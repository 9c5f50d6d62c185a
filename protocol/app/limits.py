"""The one table of app-content limits.

Encoders refuse values outside these bounds with
:class:`~cove.protocol.errors.UsageError`; decoders refuse them with
:class:`~cove.protocol.errors.DecodeError`. ``docs/protocol/app-content.md``
repeats the table and a test checks that the two agree. String lengths are
counted in UTF-8 bytes (what the encoding costs), not in characters.

Every field at its maximum still fits in :data:`RECORD_MAX` after padding (a
test builds the largest record of each type), so a record whose fields are in
bounds always encodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..crypto.stream import MAX_ATTACHMENT_SIZE, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE


@dataclass(frozen=True, slots=True)
class Limit:
    """One row: ``name`` accepts values (or lengths) in ``minimum..maximum``."""

    name: str
    minimum: int
    maximum: int
    unit: str
    applies_to: str


KIB: Final = 1024

LIMITS: Final[tuple[Limit, ...]] = (
    Limit("record", 512, 64 * KIB, "bytes", "one padded record (the MLS application data)"),
    Limit("padding_min", 512, 512, "bytes", "smallest padded record"),
    Limit("id", 16, 16, "bytes", "id, thread, target, reply_to"),
    Limit("sent_at", 0, (1 << 53) - 1, "seconds", "sent_at (fits a JavaScript number)"),
    Limit("title", 1, 512, "bytes", "ThreadRoot.title, Edit.title"),
    Limit("body", 0, 32 * KIB, "bytes", "body of ThreadRoot, Post, Edit, DirectMessage"),
    Limit("attachments", 0, 16, "items", "attachments of ThreadRoot, Post, DirectMessage"),
    Limit("emoji", 1, 64, "bytes", "Reaction.emoji"),
    Limit("reason", 0, 1 * KIB, "bytes", "Redaction.reason"),
    Limit("group_name", 1, 200, "bytes", "GroupMetadata.name"),
    Limit("group_description", 0, 2000, "bytes", "GroupMetadata.description"),
    Limit("blob_id", 16, 16, "bytes", "AttachmentRef.blob_id (the relay's blob id)"),
    Limit("key", 32, 32, "bytes", "AttachmentRef.key"),
    Limit("sha256", 32, 32, "bytes", "AttachmentRef.sha256"),
    Limit("size", 0, MAX_ATTACHMENT_SIZE, "bytes", "AttachmentRef.size (plaintext)"),
    Limit("media_type", 3, 127, "bytes", "AttachmentRef.media_type"),
    Limit("file_name", 1, 255, "bytes", "AttachmentRef.file_name"),
    Limit("chunk_size", MIN_CHUNK_SIZE, MAX_CHUNK_SIZE, "bytes", "AttachmentRef.chunk_size"),
)

_BY_NAME: Final[dict[str, Limit]] = {row.name: row for row in LIMITS}


def limit(name: str) -> Limit:
    """The row called ``name``."""
    return _BY_NAME[name]


RECORD_MAX: Final = limit("record").maximum
PADDING_MIN: Final = limit("padding_min").maximum
ID_LEN: Final = limit("id").maximum

__all__ = ["ID_LEN", "LIMITS", "PADDING_MIN", "RECORD_MAX", "Limit", "limit"]
