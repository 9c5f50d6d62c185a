"""App records: what members say to each other inside MLS application messages.

Each record is one msgpack map, zero-padded (see :func:`.codec.padded_size`)::

    {"v": 1, "t": <RecordType>, "id": bin 16, "sent_at": int, <fields of the type>}

``v`` is :data:`APP_VERSION`; ``t`` says which record follows; the other keys
are the dataclass fields in declaration order. Optional fields whose value is
``None`` are left out; every other field is always present.

Decoding (:func:`decode`) is strict: anything malformed raises
:class:`~cove.protocol.errors.DecodeError`; a well-formed record of a newer
version raises its subclass :class:`UnsupportedAppVersion`, one of a type this
code does not know :class:`UnknownRecordType`. Clients keep such plaintexts
(encrypted at rest) and decode them again after an upgrade: the MLS keys that
decrypted them are gone.

Rules that need the sender's identity or the group's roles are the client's,
not this module's; each class's docstring states its rule. Ids dedupe: within a
group, the first record with a given ``id`` (in relay log order) counts and any
later record with the same ``id`` is ignored, whoever sent it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated, Any, ClassVar, Final, Self, TypeAlias

from ..crypto.rng import RandomProvider
from ..crypto.stream import AttachmentDecryptor, ciphertext_length
from ..errors import DecodeError, UsageError
from .codec import Blob, FieldError, Flag, ListOf, Struct, Text, UInt, pack, unpack
from .limits import ID_LEN

#: The app-content version this code writes and reads.
APP_VERSION: Final = 1


class UnsupportedAppVersion(DecodeError):
    """A record of an app-content version this code does not speak."""

    def __init__(self, version: int) -> None:
        self.version = version
        super().__init__(f"app content version {version} is not supported", type_name="AppRecord")


class UnknownRecordType(DecodeError):
    """A record type this code does not know (perhaps a newer client's)."""

    def __init__(self, record_type: int) -> None:
        self.record_type = record_type
        super().__init__(f"unknown record type {record_type}", type_name="AppRecord")


class RecordType(IntEnum):
    """Record type numbers (key ``"t"``). 0 and 128 and above are never used."""

    THREAD_ROOT = 1
    POST = 2
    REACTION = 3
    EDIT = 4
    REDACTION = 5
    GROUP_METADATA = 6
    DIRECT_MESSAGE = 7


#: Blocks of type numbers set aside for records to come; nothing in them decodes yet.
RESERVED_RECORD_TYPES: Final[tuple[tuple[range, str], ...]] = (
    (range(8, 16), "more messaging (e.g. read markers, pins)"),
    (range(16, 24), "events and meet-ups (event, RSVP)"),
    (range(24, 32), "polls (poll, vote, close)"),
    (range(32, 40), "group rules"),
    (range(40, 48), "reports to moderators"),
    (range(48, 56), "roles and moderation (role grants, bans, join approvals)"),
    (range(56, 128), "unassigned"),
)

Id = Annotated[bytes, Blob("id")]
OptionalId = Annotated[bytes | None, Blob("id")]


def new_record_id(rng: RandomProvider) -> bytes:
    """16 fresh random bytes for a record's ``id``."""
    out = rng.random_bytes(ID_LEN)
    if type(out) is not bytes or len(out) != ID_LEN:
        raise UsageError("the random provider returned the wrong number of bytes")
    return out


# -- attachments --------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AttachmentRef(Struct):
    """A reference to an encrypted attachment stored on the relay.

    ``{blob_id: bin 16, key: bin 32, sha256: bin 32, size: int, media_type:
    str, file_name: str, chunk_size: int}``. ``key`` is the file key of
    :mod:`cove.protocol.crypto.stream`, ``sha256`` the hash of the whole blob,
    ``size`` the plaintext length. ``media_type`` and ``file_name`` come from
    the sender and are only hints: a client never opens a file because of them
    and strips anything a file system would read as a path.
    """

    blob_id: Annotated[bytes, Blob("blob_id")]
    key: Annotated[bytes, Blob("key")]
    sha256: Annotated[bytes, Blob("sha256")]
    size: Annotated[int, UInt("size")]
    media_type: Annotated[str, Text("media_type", "media_type")]
    file_name: Annotated[str, Text("file_name", "file_name")]
    chunk_size: Annotated[int, UInt("chunk_size")]

    def __repr__(self) -> str:
        # Never print the key (nor the name) into logs.
        return f"AttachmentRef(blob_id={self.blob_id.hex()}, size={self.size}, <key hidden>)"

    @property
    def ciphertext_size(self) -> int:
        """The exact length of the blob; a download of another length is refused."""
        return ciphertext_length(self.size, self.chunk_size)

    def decryptor(self) -> AttachmentDecryptor:
        """A streaming decryptor that checks everything this reference promises."""
        return AttachmentDecryptor(self.key, self.chunk_size, self.sha256, self.size)


Attachments = Annotated[tuple[AttachmentRef, ...], ListOf(AttachmentRef, "attachments")]


# -- records ------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Record(Struct):
    """Fields of every record: ``id`` (16 random bytes, the dedupe key) and
    ``sent_at`` (seconds since the Unix epoch by the sender's clock: shown to
    users, never used to order, dedupe or authorise anything; relay log order
    is the order)."""

    RECORD_TYPE: ClassVar[RecordType]

    id: Id
    sent_at: Annotated[int, UInt("sent_at")]

    def encode(self) -> bytes:
        """The record as padded msgpack (the MLS application data)."""
        body: dict[str, object] = {"v": APP_VERSION, "t": int(self.RECORD_TYPE)}
        body.update(self.to_map())
        return pack(body, type(self).__name__)

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """Decode a record that must be of this type (DecodeError otherwise)."""
        record = decode(data)
        if not isinstance(record, cls):
            raise DecodeError(f"a {type(record).__name__}, not a {cls.__name__}")
        return record


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreadRoot(_Record):
    """Starts a thread: ``{title: str, body: str, attachments: [AttachmentRef]}``.

    ``body`` may be empty. Replies are :class:`Post` records naming this ``id``.
    """

    RECORD_TYPE: ClassVar[RecordType] = RecordType.THREAD_ROOT

    title: Annotated[str, Text("title", "line")]
    body: Annotated[str, Text("body")]
    attachments: Attachments = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Post(_Record):
    """A message in a thread: ``{thread: bin 16, body: str, reply_to?: bin 16,
    attachments: [AttachmentRef]}``.

    ``thread`` is a :class:`ThreadRoot` id; ``reply_to`` (optional) the id of
    a record in the same thread. A client shows a post whose thread it has not
    seen (yet) as orphaned rather than dropping it.
    """

    RECORD_TYPE: ClassVar[RecordType] = RecordType.POST

    thread: Id
    body: Annotated[str, Text("body")]
    reply_to: OptionalId = None
    attachments: Attachments = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Reaction(_Record):
    """Adds or removes an emoji reaction: ``{target: bin 16, emoji: str, remove: bool}``.

    A member has at most one reaction per (target, emoji); the latest of that
    member's reactions for the pair, in log order, decides (``remove`` true
    takes it away). ``emoji`` is any short one-line string, shown as text.
    """

    RECORD_TYPE: ClassVar[RecordType] = RecordType.REACTION

    target: Id
    emoji: Annotated[str, Text("emoji", "line")]
    remove: Annotated[bool, Flag()] = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Edit(_Record):
    """Replaces the body (and, for a thread root, the title) of a record:
    ``{target: bin 16, body: str, title?: str}``.

    Client rule: an edit counts only if its sender is the author of
    ``target`` (the MLS sender of the original record); anyone else's edit is
    ignored and recorded. ``target`` is always the original record, never
    another edit; the latest counting edit in log order wins. ``title`` is
    only meaningful when ``target`` is a :class:`ThreadRoot`.
    """

    RECORD_TYPE: ClassVar[RecordType] = RecordType.EDIT

    target: Id
    body: Annotated[str, Text("body")]
    title: Annotated[str | None, Text("title", "line")] = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Redaction(_Record):
    """Deletes a record: ``{target: bin 16, reason?: str}``.

    Client rule: it counts if its sender is the author of ``target`` or holds a
    moderator role at that point of the log; clients then drop the target's
    content (and its attachments' keys) and show that it was deleted, with the
    reason if one was given.
    """

    RECORD_TYPE: ClassVar[RecordType] = RecordType.REDACTION

    target: Id
    reason: Annotated[str | None, Text("reason")] = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupMetadata(_Record):
    """The group's name and description: ``{name: str, description: str}``.

    They exist only here, inside the encrypted group content; the relay never
    sees them. Client rule: the latest record in log order from a member who
    may manage the group wins.
    """

    RECORD_TYPE: ClassVar[RecordType] = RecordType.GROUP_METADATA

    name: Annotated[str, Text("group_name", "line")]
    description: Annotated[str, Text("group_description")] = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectMessage(_Record):
    """A message in a two-member group used for private messages:
    ``{body: str, reply_to?: bin 16, attachments: [AttachmentRef]}``."""

    RECORD_TYPE: ClassVar[RecordType] = RecordType.DIRECT_MESSAGE

    body: Annotated[str, Text("body")]
    reply_to: OptionalId = None
    attachments: Attachments = ()


#: Any app record.
AppRecord: TypeAlias = (
    ThreadRoot | Post | Reaction | Edit | Redaction | GroupMetadata | DirectMessage
)

RECORD_CLASSES: Final[dict[RecordType, type[AppRecord]]] = {
    RecordType.THREAD_ROOT: ThreadRoot,
    RecordType.POST: Post,
    RecordType.REACTION: Reaction,
    RecordType.EDIT: Edit,
    RecordType.REDACTION: Redaction,
    RecordType.GROUP_METADATA: GroupMetadata,
    RecordType.DIRECT_MESSAGE: DirectMessage,
}
_BY_NUMBER: Final[dict[int, type[AppRecord]]] = {int(k): v for k, v in RECORD_CLASSES.items()}


#: Record classes of feature modules (e.g. :mod:`.join_records`), by type number.
_FEATURE_RECORDS: Final[dict[int, Any]] = {}


def register_record_class(number: int, cls: type) -> None:
    """Let :func:`decode` build a feature module's record type ``number``."""
    if number in _BY_NUMBER or number in _FEATURE_RECORDS or not 8 <= number < 128:
        raise UsageError(f"record type {number} is taken or out of range")
    _FEATURE_RECORDS[number] = cls


def encode(record: AppRecord) -> bytes:
    """``record.encode()``; UsageError for anything that is not an app record."""
    if not isinstance(record, _Record):
        raise UsageError("not an app record")
    return record.encode()


def decode(data: bytes) -> AppRecord:
    """Decode one padded record; :class:`DecodeError` for anything wrong."""
    obj = unpack(data, "AppRecord")
    version = obj.pop("v", None)
    if type(version) is not int:
        raise DecodeError("missing or malformed version", type_name="AppRecord")
    if version != APP_VERSION:
        raise UnsupportedAppVersion(version)
    number = obj.pop("t", None)
    if type(number) is not int:
        raise DecodeError("missing or malformed record type", type_name="AppRecord")
    cls = _BY_NUMBER.get(number) or _FEATURE_RECORDS.get(number)
    if cls is None:
        raise UnknownRecordType(number)
    try:
        return cls(**cls.load_fields(obj))
    except FieldError as exc:
        raise DecodeError(str(exc), type_name=cls.__name__) from None
    except UsageError as exc:  # pragma: no cover - the specs ran already
        raise DecodeError(str(exc), type_name=cls.__name__) from None


__all__ = [
    "APP_VERSION",
    "RECORD_CLASSES",
    "RESERVED_RECORD_TYPES",
    "AppRecord",
    "AttachmentRef",
    "DirectMessage",
    "Edit",
    "GroupMetadata",
    "Post",
    "Reaction",
    "RecordType",
    "Redaction",
    "ThreadRoot",
    "UnknownRecordType",
    "UnsupportedAppVersion",
    "decode",
    "encode",
    "new_record_id",
    "register_record_class",
]

from . import join_records as _join_records  # noqa: E402, F401  (registers its record types)
from . import moderation_records as _moderation_records  # noqa: E402, F401  (same)
