"""Message framing structs (RFC 9420 §6): syntax only.

Protecting and unprotecting messages (signatures, membership tags, the
encryption of PrivateMessage) lives in a separate module built on these.
The byte strings that get signed, MACed or used as AEAD associated data are
produced here:

* :func:`framed_content_tbs` / :meth:`AuthenticatedContent.tbs` — ``FramedContentTBS``;
* :func:`authenticated_content_tbm` / :meth:`PublicMessage.tbm` — ``AuthenticatedContentTBM``;
* :meth:`AuthenticatedContent.confirmed_transcript_hash_input` and
  :meth:`AuthenticatedContent.interim_transcript_hash_input` (§8.2);
* :meth:`PrivateMessage.content_aad` (``PrivateContentAAD``) and
  :meth:`PrivateMessage.sender_data_aad` (``SenderDataAAD``).

Union fields hold the arm's value and derive the tag from its Python type:
``FramedContent.content`` is ``bytes`` (application data), a
:class:`~.proposals.Proposal` or a :class:`~.commit.Commit`;
``MLSMessage.body`` is a :class:`PublicMessage`, :class:`PrivateMessage`,
:class:`~.welcome.Welcome`, :class:`~.welcome.GroupInfo` or
:class:`~.key_package.KeyPackage`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TypeAlias

from ..codec import Reader, Struct, Writer, encode_varint
from ..errors import DecodeError, UsageError
from .framed_content import (
    AuthenticatedContent,
    Content,
    ContentType,
    FramedContent,
    FramedContentAuthData,
    Sender,
    SenderType,
    WireFormat,
    _check_auth,
    _content_repr,
    _read_content,
    _read_content_type,
    _write_content,
    authenticated_content_tbm,
    content_type_of,
    framed_content_tbs,
)
from .group_context import MLS10, GroupContext
from .key_package import KeyPackage
from .welcome import GroupInfo, Welcome

__all__ = [
    "AuthenticatedContent",
    "Content",
    "ContentType",
    "FramedContent",
    "FramedContentAuthData",
    "MLSMessage",
    "MLSMessageBody",
    "PrivateContentAAD",
    "PrivateMessage",
    "PrivateMessageContent",
    "PublicMessage",
    "Sender",
    "SenderData",
    "SenderDataAAD",
    "SenderType",
    "WireFormat",
    "authenticated_content_tbm",
    "content_type_of",
    "framed_content_tbs",
    "sender_data_aad",
    "wire_format_of",
]


@dataclass(frozen=True, slots=True)
class PublicMessage(Struct):
    """::

        struct {
            FramedContent content;
            FramedContentAuthData auth;
            select (PublicMessage.content.sender.sender_type) {
                case member:              MAC membership_tag;
                case external:
                case new_member_commit:
                case new_member_proposal: struct{};
            };
        } PublicMessage;

    An application message in a PublicMessage decodes (the vectors contain
    some); refusing it is the protection layer's job (§6.2).
    """

    content: FramedContent
    auth: FramedContentAuthData
    membership_tag: bytes | None = None

    def __post_init__(self) -> None:
        _check_auth(self.content, self.auth)
        is_member = self.content.sender.sender_type == SenderType.MEMBER
        if is_member != (self.membership_tag is not None):
            raise UsageError("a membership_tag is present exactly for member senders")

    def encode(self, w: Writer) -> None:
        self.content.encode(w)
        self.auth.encode(w)
        if self.membership_tag is not None:
            w.opaque(self.membership_tag)

    @classmethod
    def decode(cls, r: Reader) -> PublicMessage:
        content = FramedContent.decode(r)
        auth = FramedContentAuthData.decode(r, content.content_type)
        tag = r.opaque() if content.sender.sender_type == SenderType.MEMBER else None
        return cls(content, auth, tag)

    def authenticated_content(self) -> AuthenticatedContent:
        return AuthenticatedContent(WireFormat.PUBLIC_MESSAGE, self.content, self.auth)

    def tbm(self, context: GroupContext | None) -> bytes:
        """``AuthenticatedContentTBM`` for this message, the membership tag's input."""
        tbs = framed_content_tbs(WireFormat.PUBLIC_MESSAGE, self.content, context)
        return authenticated_content_tbm(tbs, self.auth)


@dataclass(frozen=True, slots=True)
class PrivateContentAAD(Struct):
    """::

    struct {
        opaque group_id<V>;
        uint64 epoch;
        ContentType content_type;
        opaque authenticated_data<V>;
    } PrivateContentAAD;
    """

    group_id: bytes
    epoch: int
    content_type: ContentType
    authenticated_data: bytes

    def encode(self, w: Writer) -> None:
        w.opaque(self.group_id)
        w.uint64(self.epoch)
        w.uint8(self.content_type)
        w.opaque(self.authenticated_data)

    @classmethod
    def decode(cls, r: Reader) -> PrivateContentAAD:
        return cls(r.opaque(), r.uint64(), _read_content_type(r), r.opaque())


@dataclass(frozen=True, slots=True)
class SenderDataAAD(Struct):
    """::

    struct {
        opaque group_id<V>;
        uint64 epoch;
        ContentType content_type;
    } SenderDataAAD;
    """

    group_id: bytes
    epoch: int
    content_type: ContentType

    def encode(self, w: Writer) -> None:
        w.opaque(self.group_id)
        w.uint64(self.epoch)
        w.uint8(self.content_type)

    @classmethod
    def decode(cls, r: Reader) -> SenderDataAAD:
        return cls(r.opaque(), r.uint64(), _read_content_type(r))


@dataclass(frozen=True, slots=True)
class SenderData(Struct):
    """``struct { uint32 leaf_index; uint32 generation; opaque reuse_guard[4]; } SenderData;``"""

    leaf_index: int
    generation: int
    reuse_guard: bytes

    def __post_init__(self) -> None:
        if len(self.reuse_guard) != 4:
            raise UsageError("reuse_guard is 4 bytes")

    def encode(self, w: Writer) -> None:
        w.uint32(self.leaf_index)
        w.uint32(self.generation)
        w.fixed(self.reuse_guard)

    @classmethod
    def decode(cls, r: Reader) -> SenderData:
        return cls(r.uint32(), r.uint32(), r.fixed(4))

    def to_bytes(self) -> bytes:
        return _SENDER_DATA.pack(self.leaf_index, self.generation, self.reuse_guard)

    @classmethod
    def from_bytes(cls, data: bytes) -> SenderData:
        if len(data) == _SENDER_DATA.size:  # the only valid length: one unpack
            leaf_index, generation, reuse_guard = _SENDER_DATA.unpack(data)
            return cls(leaf_index, generation, reuse_guard)
        return super(SenderData, cls).from_bytes(data)  # refuses it with the offset


_SENDER_DATA = struct.Struct(">II4s")


@dataclass(frozen=True, slots=True)
class PrivateMessage(Struct):
    """::

        struct {
            opaque group_id<V>;
            uint64 epoch;
            ContentType content_type;
            opaque authenticated_data<V>;
            opaque encrypted_sender_data<V>;
            opaque ciphertext<V>;
        } PrivateMessage;

    An unknown ``content_type`` is refused: the ciphertext could not be parsed.
    """

    group_id: bytes
    epoch: int
    content_type: ContentType
    authenticated_data: bytes
    encrypted_sender_data: bytes
    ciphertext: bytes

    def encode(self, w: Writer) -> None:
        w.opaque(self.group_id)
        w.uint64(self.epoch)
        w.uint8(self.content_type)
        w.opaque(self.authenticated_data)
        w.opaque(self.encrypted_sender_data)
        w.opaque(self.ciphertext)

    @classmethod
    def decode(cls, r: Reader) -> PrivateMessage:
        return cls(
            group_id=r.opaque(),
            epoch=r.uint64(),
            content_type=_read_content_type(r),
            authenticated_data=r.opaque(),
            encrypted_sender_data=r.opaque(),
            ciphertext=r.opaque(),
        )

    def content_aad(self) -> bytes:
        """The ``PrivateContentAAD`` bytes for the content AEAD (SenderDataAAD's bytes
        followed by ``authenticated_data<V>``)."""
        ad = self.authenticated_data
        return b"".join((self.sender_data_aad(), encode_varint(len(ad)), ad))

    def sender_data_aad(self) -> bytes:
        """The ``SenderDataAAD`` bytes for the sender-data AEAD."""
        return sender_data_aad(self.group_id, self.epoch, self.content_type)


def sender_data_aad(group_id: bytes, epoch: int, content_type: int) -> bytes:
    """``SenderDataAAD`` (group_id<V>, uint64 epoch, ContentType) in one join."""
    return b"".join((encode_varint(len(group_id)), group_id, _EPOCH_TYPE.pack(epoch, content_type)))


#: uint64 epoch || ContentType content_type
_EPOCH_TYPE = struct.Struct(">QB")


@dataclass(frozen=True, slots=True, repr=False)
class PrivateMessageContent:
    """The plaintext of ``PrivateMessage.ciphertext``::

        struct {
            select (PrivateMessage.content_type) {
                case application: opaque application_data<V>;
                case proposal:    Proposal proposal;
                case commit:      Commit commit;
            };
            FramedContentAuthData auth;
            opaque padding[length_of_padding];
        } PrivateMessageContent;

    ``padding`` is the number of zero bytes appended by :meth:`to_bytes`.
    :meth:`from_bytes` (or :meth:`decode`, which reads to the end of the
    reader) needs the PrivateMessage's content type, parses the content and
    ``auth``, and takes every remaining byte as padding: a non-zero padding
    byte is a :class:`~cove.protocol.errors.DecodeError` (§6.3.1).
    """

    content: Content
    auth: FramedContentAuthData
    padding: int = 0

    def __post_init__(self) -> None:
        is_commit = content_type_of(self.content) == ContentType.COMMIT
        if is_commit != (self.auth.confirmation_tag is not None):
            raise UsageError("a confirmation_tag is present exactly for commits")
        if self.padding < 0:
            raise UsageError("padding length must be non-negative")

    @property
    def content_type(self) -> ContentType:
        return content_type_of(self.content)

    def __repr__(self) -> str:
        return (
            f"PrivateMessageContent(content={_content_repr(self.content)}, padding={self.padding})"
        )

    def encode(self, w: Writer) -> None:
        _write_content(w, self.content)
        self.auth.encode(w)
        w.fixed(bytes(self.padding))

    def to_bytes(self) -> bytes:
        w = Writer()
        self.encode(w)
        return w.getvalue()

    @classmethod
    def decode(cls, r: Reader, content_type: int) -> PrivateMessageContent:
        content = _read_content(r, content_type)
        auth = FramedContentAuthData.decode(r, content_type)
        start = r.position
        padding = r.fixed(r.remaining())
        if padding.count(0) != len(padding):
            offset = start + next(i for i, b in enumerate(padding) if b)
            raise DecodeError(
                "non-zero padding byte", type_name=r.type_name or cls.__name__, offset=offset
            )
        return cls(content, auth, len(padding))

    @classmethod
    def from_bytes(cls, data: bytes, content_type: int) -> PrivateMessageContent:
        return cls.decode(Reader(data, type_name=cls.__name__), content_type)

    @classmethod
    def content_and_auth(
        cls, data: bytes, content_type: int
    ) -> tuple[Content, FramedContentAuthData]:
        """``from_bytes(data, content_type)``'s content and auth, with the same checks;
        application data (every message but handshakes) without building the struct."""
        if content_type != ContentType.APPLICATION:
            plain = cls.from_bytes(data, content_type)
            return plain.content, plain.auth
        r = Reader(data, type_name=cls.__name__)
        application_data = r.opaque()
        signature = r.opaque()
        start = r.position
        if data.count(0, start) != len(data) - start:
            cls.from_bytes(data, content_type)  # raises the DecodeError with its offset
        return application_data, FramedContentAuthData(signature)


MLSMessageBody: TypeAlias = PublicMessage | PrivateMessage | Welcome | GroupInfo | KeyPackage


def wire_format_of(body: MLSMessageBody) -> WireFormat:
    if isinstance(body, PublicMessage):
        return WireFormat.PUBLIC_MESSAGE
    if isinstance(body, PrivateMessage):
        return WireFormat.PRIVATE_MESSAGE
    if isinstance(body, Welcome):
        return WireFormat.WELCOME
    if isinstance(body, GroupInfo):
        return WireFormat.GROUP_INFO
    if isinstance(body, KeyPackage):
        return WireFormat.KEY_PACKAGE
    raise UsageError(f"not an MLSMessage body: {type(body).__name__}")


_BODY_DECODERS: dict[int, type[MLSMessageBody]] = {
    WireFormat.PUBLIC_MESSAGE: PublicMessage,
    WireFormat.PRIVATE_MESSAGE: PrivateMessage,
    WireFormat.WELCOME: Welcome,
    WireFormat.GROUP_INFO: GroupInfo,
    WireFormat.KEY_PACKAGE: KeyPackage,
}


@dataclass(frozen=True, slots=True)
class MLSMessage(Struct):
    """::

        struct {
            ProtocolVersion version = mls10;
            WireFormat wire_format;
            select (MLSMessage.wire_format) {
                case mls_public_message:  PublicMessage public_message;
                case mls_private_message: PrivateMessage private_message;
                case mls_welcome:         Welcome welcome;
                case mls_group_info:      GroupInfo group_info;
                case mls_key_package:     KeyPackage key_package;
            };
        } MLSMessage;

    ``body`` is the arm's struct; ``wire_format`` follows from its type. A
    version other than mls10 and an unknown wire format are refused.
    """

    body: MLSMessageBody

    @property
    def version(self) -> int:
        return MLS10

    @property
    def wire_format(self) -> WireFormat:
        return wire_format_of(self.body)

    def encode(self, w: Writer) -> None:
        w.uint16(MLS10)
        w.uint16(self.wire_format)
        self.body.encode(w)

    @classmethod
    def decode(cls, r: Reader) -> MLSMessage:
        version = r.uint16()
        if version != MLS10:
            raise r.error(f"unsupported protocol version {version}")
        wire_format = r.uint16()
        body_cls = _BODY_DECODERS.get(wire_format)
        if body_cls is None:
            raise r.error(f"unknown wire format {wire_format}")
        return cls(body_cls.decode(r))
