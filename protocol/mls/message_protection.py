"""Protection of MLS messages: signing, membership tags, encryption (RFC 9420 §6.1–§6.3).

::

    sender:                                   receiver:
    FramedContent                             PublicMessage
      | sign_content (SignWithLabel            |  verify membership_tag (member senders)
      |   "FramedContentTBS")                  |  verify signature
      V                                        V
    AuthenticatedContent  ---------------->  AuthenticatedContent
      | protect_public: + membership_tag
      | protect_private: secret-tree key, reuse guard,
      |   PrivateMessageContent + zero padding, AEAD;
      |   SenderData encrypted under a key sampled from the ciphertext
      V
    PublicMessage / PrivateMessage

These functions are stateless apart from the :class:`SecretTree` they are
given; checking that the message belongs to the current group and epoch, and
mapping a sender to its signature key, is the caller's (the group's) job: it
passes ``signature_key_for(sender)``. Every failure raises: a bad tag or
signature :class:`CryptoError`, a malformed plaintext :class:`DecodeError`, a
message that breaks a framing rule :class:`ValidationError`, a key that is no
longer available :class:`StateError`.
"""

from __future__ import annotations

import hmac
import struct
from collections.abc import Callable
from functools import lru_cache

from ..codec import encode_varint
from ..crypto import RandomProvider, Suite
from ..crypto.labels import kdf_label_prefix, sign_with_label, verify_with_label
from ..errors import CryptoError, UsageError, ValidationError
from .framing import (
    AuthenticatedContent,
    ContentType,
    FramedContent,
    FramedContentAuthData,
    PrivateMessage,
    PrivateMessageContent,
    PublicMessage,
    Sender,
    SenderData,
    SenderType,
    WireFormat,
    framed_content_tbs,
    sender_data_aad,
)
from .group_context import GroupContext
from .secret_tree import RatchetType, SecretTree

#: Signature label of FramedContentTBS (§6.1).
FRAMED_CONTENT_LABEL = b"FramedContentTBS"
#: Size of the reuse guard (§6.3.1).
REUSE_GUARD_LENGTH = 4

SignatureKeyLookup = Callable[[FramedContent], bytes]


def _needs_context(content: FramedContent) -> bool:
    return content.sender.sender_type in (SenderType.MEMBER, SenderType.NEW_MEMBER_COMMIT)


def sign_content(
    suite: Suite,
    wire_format: WireFormat,
    content: FramedContent,
    signature_private: bytes,
    context: GroupContext | None,
    confirmation_tag: bytes | None = None,
) -> AuthenticatedContent:
    """Sign ``content`` as ``wire_format`` (§6.1). ``context`` is needed for member and
    new-member-commit senders; ``confirmation_tag`` exactly for commits."""
    tbs = framed_content_tbs(wire_format, content, context if _needs_context(content) else None)
    signature = sign_with_label(suite, signature_private, FRAMED_CONTENT_LABEL, tbs)
    return AuthenticatedContent(
        wire_format, content, FramedContentAuthData(signature, confirmation_tag)
    )


def verify_content_signature(
    suite: Suite,
    auth_content: AuthenticatedContent,
    signature_public: bytes,
    context: GroupContext | None,
) -> None:
    """Rule V-FRAMING-001: the FramedContentTBS signature verifies (§6.1)."""
    tbs = auth_content.tbs(context if _needs_context(auth_content.content) else None)
    verify_with_label(
        suite, signature_public, FRAMED_CONTENT_LABEL, tbs, auth_content.auth.signature
    )


# -- PublicMessage (§6.2) -----------------------------------------------------


def protect_public(
    suite: Suite,
    auth_content: AuthenticatedContent,
    context: GroupContext | None,
    membership_key: bytes | None,
) -> PublicMessage:
    """Wrap signed content as a PublicMessage, adding the membership tag for members."""
    if auth_content.wire_format != WireFormat.PUBLIC_MESSAGE:
        raise UsageError("content was signed for another wire format")
    if auth_content.content.content_type == ContentType.APPLICATION:
        raise UsageError("application data is never sent as a PublicMessage")
    content = auth_content.content
    if content.sender.sender_type != SenderType.MEMBER:
        return PublicMessage(content, auth_content.auth)
    if membership_key is None or context is None:
        raise UsageError("a member's PublicMessage needs the membership key and context")
    unsigned = PublicMessage(content, auth_content.auth, b"")
    tag = suite.mac(membership_key, unsigned.tbm(context))
    return PublicMessage(content, auth_content.auth, tag)


def unprotect_public(
    suite: Suite,
    message: PublicMessage,
    context: GroupContext | None,
    membership_key: bytes | None,
    signature_key_for: SignatureKeyLookup,
) -> AuthenticatedContent:
    """Check a PublicMessage: content type, membership tag, signature (§6.2).

    Rules: V-FRAMING-002 (no application data in a PublicMessage),
    V-FRAMING-003 (membership tag of a member sender), V-FRAMING-001 (signature).
    """
    content = message.content
    if content.content_type == ContentType.APPLICATION:
        raise ValidationError("V-FRAMING-002", "application data in a PublicMessage")
    if content.sender.sender_type == SenderType.MEMBER:
        if membership_key is None or context is None or message.membership_tag is None:
            raise UsageError("a member's PublicMessage needs the membership key and context")
        expected = suite.mac(membership_key, message.tbm(context))
        if not hmac.compare_digest(expected, message.membership_tag):
            raise CryptoError("membership tag does not verify")
    auth_content = message.authenticated_content()
    verify_content_signature(suite, auth_content, signature_key_for(content), context)
    return auth_content


# -- PrivateMessage (§6.3) ----------------------------------------------------


def sender_data_key_nonce(
    suite: Suite, sender_data_secret: bytes, ciphertext: bytes
) -> tuple[bytes, bytes]:
    """Key and nonce of the sender data (§6.3.2), from the first KDF.Nh ciphertext bytes."""
    sample = ciphertext[: suite.hash_length]
    (key_info, key_len), (nonce_info, nonce_len) = _sender_data_infos(suite)
    context = encode_varint(len(sample)) + sample
    return (
        suite.kdf_expand(sender_data_secret, key_info + context, key_len),
        suite.kdf_expand(sender_data_secret, nonce_info + context, nonce_len),
    )


@lru_cache(maxsize=16)
def _sender_data_infos(suite: Suite) -> tuple[tuple[bytes, int], tuple[bytes, int]]:
    """The KDFLabel heads of the sender-data key and nonce (one pair per suite)."""
    return (
        (kdf_label_prefix(b"key", suite.aead_key_length), suite.aead_key_length),
        (kdf_label_prefix(b"nonce", suite.aead_nonce_length), suite.aead_nonce_length),
    )


def _ratchet_type(content_type: int) -> RatchetType:
    return (
        RatchetType.APPLICATION
        if content_type == ContentType.APPLICATION
        else (RatchetType.HANDSHAKE)
    )


def _guarded(nonce: bytes, reuse_guard: bytes) -> bytes:
    """XOR the reuse guard into the first four bytes of the nonce (§6.3.1)."""
    head = int.from_bytes(nonce[:4], "big") ^ int.from_bytes(reuse_guard, "big")
    return head.to_bytes(4, "big") + nonce[4:]


_LEAF_GENERATION = struct.Struct(">II")


def padding_for(length: int, block: int) -> int:
    """Zero bytes that bring a plaintext of ``length`` bytes to a multiple of ``block``."""
    if block <= 1:
        return 0
    return -length % block


def protect_private(
    suite: Suite,
    auth_content: AuthenticatedContent,
    secret_tree: SecretTree,
    sender_data_secret: bytes,
    rng: RandomProvider,
    *,
    padding_block: int = 32,
) -> PrivateMessage:
    """Encrypt signed content from a member as a PrivateMessage (§6.3).

    The plaintext is padded with zero bytes to a multiple of ``padding_block``
    so that lengths reveal less (§15.1).
    """
    content = auth_content.content
    if auth_content.wire_format != WireFormat.PRIVATE_MESSAGE:
        raise UsageError("content was signed for another wire format")
    if content.sender.sender_type != SenderType.MEMBER or content.sender.index is None:
        raise UsageError("only members send PrivateMessages")
    content_type = content.content_type
    data = content.content
    # The AEAD tag adds a constant, so padding the plaintext pads the ciphertext.
    if isinstance(data, bytes):  # application data: PrivateMessageContent in one join
        signature = auth_content.auth.signature
        head, sig_head = encode_varint(len(data)), encode_varint(len(signature))
        pad = padding_for(len(head) + len(data) + len(sig_head) + len(signature), padding_block)
        body = b"".join((head, data, sig_head, signature, bytes(pad)))
    else:
        body = PrivateMessageContent(data, auth_content.auth).to_bytes()
        body += bytes(padding_for(len(body), padding_block))
    leaf = content.sender.index
    generation, key, nonce = secret_tree.next_encryption_keys(leaf, _ratchet_type(content_type))
    reuse_guard = rng.random_bytes(REUSE_GUARD_LENGTH)
    ad = content.authenticated_data
    sd_aad = sender_data_aad(content.group_id, content.epoch, content_type)
    aad = b"".join((sd_aad, encode_varint(len(ad)), ad))  # PrivateContentAAD
    ciphertext = suite.aead_encrypt(key, _guarded(nonce, reuse_guard), aad, body)
    sd_key, sd_nonce = sender_data_key_nonce(suite, sender_data_secret, ciphertext)
    # SenderData (uint32 leaf_index, uint32 generation, reuse_guard[4]) in one pack
    sender_data = _LEAF_GENERATION.pack(leaf, generation) + reuse_guard
    encrypted_sender_data = suite.aead_encrypt(sd_key, sd_nonce, sd_aad, sender_data)
    return PrivateMessage(
        group_id=content.group_id,
        epoch=content.epoch,
        content_type=content_type,
        authenticated_data=ad,
        encrypted_sender_data=encrypted_sender_data,
        ciphertext=ciphertext,
    )


def decrypt_sender_data(
    suite: Suite, message: PrivateMessage, sender_data_secret: bytes
) -> SenderData:
    """Decrypt and parse the SenderData of a PrivateMessage (§6.3.2)."""
    key, nonce = sender_data_key_nonce(suite, sender_data_secret, message.ciphertext)
    plain = suite.aead_decrypt(key, nonce, message.sender_data_aad(), message.encrypted_sender_data)
    return SenderData.from_bytes(plain)


def unprotect_private(
    suite: Suite,
    message: PrivateMessage,
    secret_tree: SecretTree,
    sender_data_secret: bytes,
    context: GroupContext,
    signature_key_for: SignatureKeyLookup,
) -> AuthenticatedContent:
    """Decrypt and verify a PrivateMessage (§6.3). The ratchet key is consumed only when
    the content decrypts, so a forged message cannot burn a genuine one's key.

    ``signature_key_for`` must raise (e.g. ValidationError) for a sender leaf
    that is not a member; it is called before the content is accepted.
    """
    return unprotect_private_with_sender_data(
        suite, message, secret_tree, sender_data_secret, context, signature_key_for
    )[0]


def unprotect_private_with_sender_data(
    suite: Suite,
    message: PrivateMessage,
    secret_tree: SecretTree,
    sender_data_secret: bytes,
    context: GroupContext,
    signature_key_for: SignatureKeyLookup,
) -> tuple[AuthenticatedContent, SenderData]:
    """:func:`unprotect_private`, also giving the decrypted SenderData (its generation),
    so that the caller need not open the sender data a second time."""
    sd_aad = message.sender_data_aad()
    sd_key, sd_nonce = sender_data_key_nonce(suite, sender_data_secret, message.ciphertext)
    sender_data = SenderData.from_bytes(
        suite.aead_decrypt(sd_key, sd_nonce, sd_aad, message.encrypted_sender_data)
    )
    kind = _ratchet_type(message.content_type)
    ad = message.authenticated_data
    aad = b"".join((sd_aad, encode_varint(len(ad)), ad))  # PrivateContentAAD

    def open_content(key: bytes, nonce: bytes) -> bytes:
        return suite.aead_decrypt(
            key, _guarded(nonce, sender_data.reuse_guard), aad, message.ciphertext
        )

    body = secret_tree.with_decryption_keys(
        sender_data.leaf_index, kind, sender_data.generation, open_content
    )
    data, auth = PrivateMessageContent.content_and_auth(body, message.content_type)
    content = FramedContent(
        message.group_id, message.epoch, Sender.member(sender_data.leaf_index), ad, data
    )
    auth_content = AuthenticatedContent(WireFormat.PRIVATE_MESSAGE, content, auth)
    # FramedContentTBS with the GroupContext (a member sender), signed with its label.
    tbs = framed_content_tbs(WireFormat.PRIVATE_MESSAGE, content, context)
    verify_with_label(suite, signature_key_for(content), FRAMED_CONTENT_LABEL, tbs, auth.signature)
    return auth_content, sender_data
