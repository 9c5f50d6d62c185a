"""App content: the records members exchange inside MLS application messages.

Pure and sans-I/O. Each record (:class:`ThreadRoot`, :class:`Post`,
:class:`Reaction`, :class:`Edit`, :class:`Redaction`, :class:`GroupMetadata`,
:class:`DirectMessage`) is a frozen, keyword-only dataclass that checks its
fields when built (:class:`~cove.protocol.errors.UsageError`), encodes to a
padded, versioned msgpack map (``record.encode()``) and decodes strictly
(:func:`decode`, :class:`~cove.protocol.errors.DecodeError` for anything
malformed). Attachments are :class:`AttachmentRef` values, encrypted with
:mod:`cove.protocol.crypto.stream`.

The specification is ``docs/protocol/app-content.md``; the limits are in
:mod:`.limits`.
"""

from .codec import clean_file_name, clean_media_type, padded_size
from .limits import LIMITS, RECORD_MAX, Limit, limit
from .records import (
    APP_VERSION,
    RECORD_CLASSES,
    RESERVED_RECORD_TYPES,
    AppRecord,
    AttachmentRef,
    DirectMessage,
    Edit,
    GroupMetadata,
    Post,
    Reaction,
    RecordType,
    Redaction,
    ThreadRoot,
    UnknownRecordType,
    UnsupportedAppVersion,
    decode,
    encode,
    new_record_id,
)

__all__ = [
    "APP_VERSION",
    "LIMITS",
    "RECORD_CLASSES",
    "RECORD_MAX",
    "RESERVED_RECORD_TYPES",
    "AppRecord",
    "AttachmentRef",
    "DirectMessage",
    "Edit",
    "GroupMetadata",
    "Limit",
    "Post",
    "Reaction",
    "RecordType",
    "Redaction",
    "ThreadRoot",
    "UnknownRecordType",
    "UnsupportedAppVersion",
    "clean_file_name",
    "clean_media_type",
    "decode",
    "encode",
    "limit",
    "new_record_id",
    "padded_size",
]
