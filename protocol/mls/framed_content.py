"""FramedContent and its parts (RFC 9420 §6): wire formats, content types, senders,
``FramedContent``, ``FramedContentAuthData``, ``AuthenticatedContent``, and the
byte strings that get signed or MACed (``FramedContentTBS``,
``AuthenticatedContentTBM``, the transcript-hash inputs of §8.2). Syntax only;
:mod:`.framing` builds the PublicMessage, PrivateMessage and MLSMessage structs on
these and re-exports every name here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache
from typing import TypeAlias

from ..codec import Reader, Struct, Writer, encode_varint
from ..errors import UsageError
from .commit import Commit
from .group_context import MLS10, GroupContext
from .proposals import Proposal


class WireFormat(IntEnum):
    """IANA "MLS Wire Formats" registry (§17.2): the ones an MLSMessage can carry."""

    PUBLIC_MESSAGE = 0x0001
    PRIVATE_MESSAGE = 0x0002
    WELCOME = 0x0003
    GROUP_INFO = 0x0004
    KEY_PACKAGE = 0x0005


class ContentType(IntEnum):
    """``enum { reserved(0), application(1), proposal(2), commit(3), (255) }``"""

    APPLICATION = 1
    PROPOSAL = 2
    COMMIT = 3


class SenderType(IntEnum):
    """``enum { reserved(0), member(1), external(2), new_member_proposal(3),
    new_member_commit(4), (255) } SenderType``"""

    MEMBER = 1
    EXTERNAL = 2
    NEW_MEMBER_PROPOSAL = 3
    NEW_MEMBER_COMMIT = 4


#: The ``FramedContent`` select: application data, a Proposal or a Commit.
Content: TypeAlias = bytes | Proposal | Commit


def _content_repr(content: Content) -> str:
    """Application data is plaintext: its repr shows only its length."""
    if isinstance(content, bytes):
        return f"<{len(content)} bytes of application data redacted>"
    return repr(content)


def content_type_of(content: Content) -> ContentType:
    """The ContentType of a content value (``bytes`` is application data)."""
    if isinstance(content, bytes):
        return ContentType.APPLICATION
    if isinstance(content, Proposal):
        return ContentType.PROPOSAL
    if isinstance(content, Commit):
        return ContentType.COMMIT
    raise UsageError(f"not an MLS content: {type(content).__name__}")


def _read_content_type(r: Reader) -> ContentType:
    value = r.uint8()
    if value == ContentType.APPLICATION:
        return ContentType.APPLICATION
    if value == ContentType.PROPOSAL:
        return ContentType.PROPOSAL
    if value == ContentType.COMMIT:
        return ContentType.COMMIT
    raise r.error(f"unknown content type {value}")


def _write_content(w: Writer, content: Content) -> None:
    if isinstance(content, bytes):
        w.opaque(content)
    else:
        content.encode(w)


def _read_content(r: Reader, content_type: int) -> Content:
    if content_type == ContentType.APPLICATION:
        return r.opaque()
    if content_type == ContentType.PROPOSAL:
        return Proposal.decode(r)
    if content_type == ContentType.COMMIT:
        return Commit.decode(r)
    raise r.error(f"unknown content type {content_type}")


@dataclass(frozen=True, slots=True)
class Sender(Struct):
    """::

        struct {
            SenderType sender_type;
            select (Sender.sender_type) {
                case member:              uint32 leaf_index;
                case external:            uint32 sender_index;
                case new_member_commit:
                case new_member_proposal: struct{};
            };
        } Sender;

    ``index`` is the leaf index (member) or the index into ``external_senders``
    (external), and ``None`` for the two new-member types.
    """

    sender_type: SenderType
    index: int | None = None

    def __post_init__(self) -> None:
        if self.sender_type in (SenderType.MEMBER, SenderType.EXTERNAL):
            if self.index is None:
                raise UsageError("member and external senders carry an index")
        elif self.sender_type in (SenderType.NEW_MEMBER_PROPOSAL, SenderType.NEW_MEMBER_COMMIT):
            if self.index is not None:
                raise UsageError("new-member senders carry no index")
        else:
            raise UsageError(f"unknown sender type {self.sender_type}")

    @classmethod
    def member(cls, leaf_index: int) -> Sender:
        if cls is Sender:  # immutable, so one shared value per leaf (every message makes one)
            return _member_sender(leaf_index)
        return cls(SenderType.MEMBER, leaf_index)

    @classmethod
    def external(cls, sender_index: int) -> Sender:
        return cls(SenderType.EXTERNAL, sender_index)

    @classmethod
    def new_member_proposal(cls) -> Sender:
        return cls(SenderType.NEW_MEMBER_PROPOSAL)

    @classmethod
    def new_member_commit(cls) -> Sender:
        return cls(SenderType.NEW_MEMBER_COMMIT)

    def encode(self, w: Writer) -> None:
        w.uint8(self.sender_type)
        if self.index is not None:
            w.uint32(self.index)

    @classmethod
    def decode(cls, r: Reader) -> Sender:
        sender_type = r.uint8()
        if sender_type == SenderType.MEMBER:
            return cls(SenderType.MEMBER, r.uint32())
        if sender_type == SenderType.EXTERNAL:
            return cls(SenderType.EXTERNAL, r.uint32())
        if sender_type == SenderType.NEW_MEMBER_PROPOSAL:
            return cls(SenderType.NEW_MEMBER_PROPOSAL)
        if sender_type == SenderType.NEW_MEMBER_COMMIT:
            return cls(SenderType.NEW_MEMBER_COMMIT)
        raise r.error(f"unknown sender type {sender_type}")


@lru_cache(maxsize=1 << 14)
def _member_sender(leaf_index: int) -> Sender:
    return Sender(SenderType.MEMBER, leaf_index)


@dataclass(frozen=True, slots=True, repr=False)
class FramedContent(Struct):
    """::

    struct {
        opaque group_id<V>;
        uint64 epoch;
        Sender sender;
        opaque authenticated_data<V>;

        ContentType content_type;
        select (FramedContent.content_type) {
            case application: opaque application_data<V>;
            case proposal:    Proposal proposal;
            case commit:      Commit commit;
        };
    } FramedContent;
    """

    group_id: bytes
    epoch: int
    sender: Sender
    authenticated_data: bytes
    content: Content

    @property
    def content_type(self) -> ContentType:
        return content_type_of(self.content)

    def __repr__(self) -> str:
        return (
            f"FramedContent(group_id={self.group_id.hex()}, epoch={self.epoch}, "
            f"sender={self.sender!r}, authenticated_data=<{len(self.authenticated_data)} bytes>, "
            f"content={_content_repr(self.content)})"
        )

    def encode(self, w: Writer) -> None:
        w.opaque(self.group_id)
        w.uint64(self.epoch)
        self.sender.encode(w)
        w.opaque(self.authenticated_data)
        w.uint8(self.content_type)
        _write_content(w, self.content)

    @classmethod
    def decode(cls, r: Reader) -> FramedContent:
        group_id = r.opaque()
        epoch = r.uint64()
        sender = Sender.decode(r)
        authenticated_data = r.opaque()
        content = _read_content(r, _read_content_type(r))
        return cls(group_id, epoch, sender, authenticated_data, content)


@dataclass(frozen=True, slots=True)
class FramedContentAuthData:
    """::

        struct {
            opaque signature<V>;
            select (FramedContent.content_type) {
                case commit:      MAC confirmation_tag;
                case application:
                case proposal:    struct{};
            };
        } FramedContentAuthData;

    Not a plain :class:`~cove.protocol.codec.Struct`: decoding needs the
    content type, so it is ``decode(r, content_type)``.
    """

    signature: bytes
    confirmation_tag: bytes | None = None

    def encode(self, w: Writer) -> None:
        w.opaque(self.signature)
        if self.confirmation_tag is not None:
            w.opaque(self.confirmation_tag)

    def to_bytes(self) -> bytes:
        w = Writer()
        self.encode(w)
        return w.getvalue()

    @classmethod
    def decode(cls, r: Reader, content_type: int) -> FramedContentAuthData:
        signature = r.opaque()
        if content_type == ContentType.COMMIT:
            return cls(signature, r.opaque())
        return cls(signature)


def _check_auth(content: FramedContent, auth: FramedContentAuthData) -> None:
    if (auth.confirmation_tag is not None) != (content.content_type == ContentType.COMMIT):
        raise UsageError("a confirmation_tag is present exactly for commits")


def framed_content_tbs(
    wire_format: int, content: FramedContent, context: GroupContext | None
) -> bytes:
    """The ``FramedContentTBS`` bytes (§6.1)::

        struct {
            ProtocolVersion version = mls10;
            WireFormat wire_format;
            FramedContent content;
            select (FramedContentTBS.content.sender.sender_type) {
                case member:
                case new_member_commit:   GroupContext context;
                case external:
                case new_member_proposal: struct{};
            };
        } FramedContentTBS;

    ``context`` is required for member and new_member_commit senders and must
    be ``None`` for the others.
    """
    needs_context = content.sender.sender_type in (
        SenderType.MEMBER,
        SenderType.NEW_MEMBER_COMMIT,
    )
    if needs_context != (context is not None):
        raise UsageError(
            "FramedContentTBS carries the GroupContext exactly for member and "
            "new_member_commit senders"
        )
    head = _TBS_HEADS.get(wire_format)
    if head is None:
        head = _U16.pack(MLS10) + _U16.pack(wire_format)
    tail = b"" if context is None else context.to_bytes()
    return b"".join((head, framed_content_bytes(content), tail))


def framed_content_bytes(content: FramedContent) -> bytes:
    """The ``FramedContent`` encoding; application data (the hot case) in one join."""
    data = content.content
    sender = content.sender
    if not isinstance(data, bytes) or sender.sender_type != SenderType.MEMBER:
        w = Writer()
        content.encode(w)
        return w.getvalue()
    group_id, authenticated_data = content.group_id, content.authenticated_data
    return b"".join(
        (
            encode_varint(len(group_id)),
            group_id,
            _MEMBER_SENDER_HEAD.pack(content.epoch, SenderType.MEMBER, sender.index),
            encode_varint(len(authenticated_data)),
            authenticated_data,
            _APPLICATION,
            encode_varint(len(data)),
            data,
        )
    )


_U16 = struct.Struct(">H")
#: uint64 epoch || Sender{member, uint32 leaf_index}
_MEMBER_SENDER_HEAD = struct.Struct(">QBI")
_APPLICATION = bytes((ContentType.APPLICATION,))
_TBS_HEADS = {
    int(wf): _U16.pack(MLS10) + _U16.pack(wf)
    for wf in (WireFormat.PUBLIC_MESSAGE, WireFormat.PRIVATE_MESSAGE)
}


def authenticated_content_tbm(content_tbs: bytes, auth: FramedContentAuthData) -> bytes:
    """``struct { FramedContentTBS content_tbs; FramedContentAuthData auth; }
    AuthenticatedContentTBM`` (§6.2), the input of the membership tag."""
    w = Writer()
    w.fixed(content_tbs)
    auth.encode(w)
    return w.getvalue()


@dataclass(frozen=True, slots=True)
class AuthenticatedContent(Struct):
    """::

        struct {
            WireFormat wire_format;
            FramedContent content;
            FramedContentAuthData auth;
        } AuthenticatedContent;

    ``wire_format`` is kept as decoded (checking it is PublicMessage or
    PrivateMessage is the protection layer's job).
    """

    wire_format: int
    content: FramedContent
    auth: FramedContentAuthData

    def __post_init__(self) -> None:
        _check_auth(self.content, self.auth)

    def encode(self, w: Writer) -> None:
        w.uint16(self.wire_format)
        self.content.encode(w)
        self.auth.encode(w)

    @classmethod
    def decode(cls, r: Reader) -> AuthenticatedContent:
        wire_format = r.uint16()
        content = FramedContent.decode(r)
        return cls(wire_format, content, FramedContentAuthData.decode(r, content.content_type))

    def tbs(self, context: GroupContext | None) -> bytes:
        """``FramedContentTBS`` for this content (see :func:`framed_content_tbs`)."""
        return framed_content_tbs(self.wire_format, self.content, context)

    def confirmed_transcript_hash_input(self) -> bytes:
        """``ConfirmedTranscriptHashInput`` (§8.2): wire_format, content, signature."""
        if self.content.content_type != ContentType.COMMIT:
            raise UsageError("only a commit enters the transcript hash")
        w = Writer()
        w.uint16(self.wire_format)
        self.content.encode(w)
        w.opaque(self.auth.signature)
        return w.getvalue()

    def interim_transcript_hash_input(self) -> bytes:
        """``InterimTranscriptHashInput`` (§8.2): ``struct { MAC confirmation_tag; }``"""
        if self.auth.confirmation_tag is None:
            raise UsageError("only a commit enters the transcript hash")
        w = Writer()
        w.opaque(self.auth.confirmation_tag)
        return w.getvalue()
