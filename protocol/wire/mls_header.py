"""The relay's peek at the cleartext header of an MLS message (RFC 9420 §6).

Only what a delivery service may see without group secrets::

    struct {
        ProtocolVersion version = mls10;     // uint16, 1
        WireFormat wire_format;              // uint16
        select (wire_format) {
            case mls_public_message:  PublicMessage;   // §6.2: FramedContent first
            case mls_private_message: PrivateMessage;  // §6.3
            case mls_welcome:         Welcome;         // §12.4.3.1
            case mls_group_info:      GroupInfo;
            case mls_key_package:     KeyPackage;      // §10
        };
    } MLSMessage;

    FramedContent:  opaque group_id<V>; uint64 epoch; Sender sender;
                    opaque authenticated_data<V>; ContentType content_type; ...
    PrivateMessage: opaque group_id<V>; uint64 epoch; ContentType content_type;
                    opaque authenticated_data<V>; opaque encrypted_sender_data<V>;
                    opaque ciphertext<V>;

A *handshake* message is a PublicMessage or PrivateMessage whose content type
is proposal or commit. This module is written directly on the TLS
:class:`~cove.protocol.codec.Reader` and does not depend on the full MLS structs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..codec import Reader
from ..errors import DecodeError

MLS10 = 1
MAX_GROUP_ID = 255


class WireFormat(enum.IntEnum):
    PUBLIC_MESSAGE = 1
    PRIVATE_MESSAGE = 2
    WELCOME = 3
    GROUP_INFO = 4
    KEY_PACKAGE = 5


class ContentType(enum.IntEnum):
    APPLICATION = 1
    PROPOSAL = 2
    COMMIT = 3


_SENDER_MEMBER = 1
_SENDER_EXTERNAL = 2
_SENDER_NEW_MEMBER_PROPOSAL = 3
_SENDER_NEW_MEMBER_COMMIT = 4
SENDER_NEW_MEMBER_COMMIT = _SENDER_NEW_MEMBER_COMMIT


@dataclass(frozen=True, slots=True)
class MLSHeader:
    """The cleartext facts about one MLS message.

    ``group_id``, ``epoch`` and ``content_type`` are set for framed messages
    (PublicMessage / PrivateMessage) and ``None`` otherwise; ``cipher_suite``
    is set for Welcome and KeyPackage.
    """

    wire_format: WireFormat
    group_id: bytes | None = None
    epoch: int | None = None
    content_type: ContentType | None = None
    cipher_suite: int | None = None
    #: a PublicMessage's sender type (1 member, 2 external, 3/4 new member)
    sender_type: int | None = None

    @property
    def is_external_commit(self) -> bool:
        """A PublicMessage commit from a ``new_member_commit`` sender (RFC 9420 §12.4.3.2)."""
        return (
            self.wire_format is WireFormat.PUBLIC_MESSAGE
            and self.content_type is ContentType.COMMIT
            and self.sender_type == SENDER_NEW_MEMBER_COMMIT
        )

    @property
    def is_framed(self) -> bool:
        return self.wire_format in (WireFormat.PUBLIC_MESSAGE, WireFormat.PRIVATE_MESSAGE)

    @property
    def is_handshake(self) -> bool:
        return self.content_type in (ContentType.PROPOSAL, ContentType.COMMIT)

    @property
    def is_commit(self) -> bool:
        return self.content_type is ContentType.COMMIT


def _content_type(r: Reader) -> ContentType:
    value = r.uint8()
    try:
        return ContentType(value)
    except ValueError:
        raise r.error(f"unknown content type {value}") from None


def _sender(r: Reader) -> int:
    sender_type = r.uint8()
    if sender_type in (_SENDER_MEMBER, _SENDER_EXTERNAL):
        r.uint32()
    elif sender_type not in (_SENDER_NEW_MEMBER_PROPOSAL, _SENDER_NEW_MEMBER_COMMIT):
        raise r.error(f"unknown sender type {sender_type}")
    return sender_type


def peek_mls_header(data: bytes) -> MLSHeader:
    """Read the cleartext header of an ``MLSMessage``; raises :class:`DecodeError`.

    A PrivateMessage is read to its end (trailing bytes refused); the body of a
    PublicMessage, Welcome or KeyPackage is not examined beyond its header.
    """
    r = Reader(data, type_name="MLSMessage")
    version = r.uint16()
    if version != MLS10:
        raise r.error(f"unsupported protocol version {version}")
    raw_format = r.uint16()
    try:
        wire_format = WireFormat(raw_format)
    except ValueError:
        raise r.error(f"unknown wire format {raw_format}") from None
    if wire_format is WireFormat.PUBLIC_MESSAGE:
        group_id = r.opaque(MAX_GROUP_ID)
        epoch = r.uint64()
        sender_type = _sender(r)
        r.opaque()
        content_type = _content_type(r)
        if r.at_end():
            raise r.error("PublicMessage has no content")
        return MLSHeader(wire_format, group_id, epoch, content_type, sender_type=sender_type)
    if wire_format is WireFormat.PRIVATE_MESSAGE:
        group_id = r.opaque(MAX_GROUP_ID)
        epoch = r.uint64()
        content_type = _content_type(r)
        r.opaque()
        r.opaque()
        r.opaque()
        r.expect_end()
        return MLSHeader(wire_format, group_id, epoch, content_type)
    if wire_format is WireFormat.WELCOME:
        return MLSHeader(wire_format, cipher_suite=r.uint16())
    if wire_format is WireFormat.KEY_PACKAGE:
        kp_version = r.uint16()
        if kp_version != MLS10:
            raise r.error(f"unsupported KeyPackage version {kp_version}")
        return MLSHeader(wire_format, cipher_suite=r.uint16())
    return MLSHeader(wire_format)


__all__ = [
    "MLS10",
    "SENDER_NEW_MEMBER_COMMIT",
    "ContentType",
    "DecodeError",
    "MLSHeader",
    "WireFormat",
    "peek_mls_header",
]
