"""The link preview: what a person sees before joining, sealed under the link.

The relay stores the *sealed* preview by link id and hands it to anyone who
shows the link's capability; only a holder of the link opens it. Inside, the
inviter's identity key signs it, and the link's inviter pin fixes that key, so
a preview made by anyone else — the relay, or another holder of the link — is
detected::

    struct {
        uint8  version = 1;
        opaque group_id<V>;           /* at most 255 bytes */
        opaque link_id<V>;            /* 10 bytes */
        uint8  mode;                  /* LinkMode */
        opaque group_name<V>;         /* one line, 1..200 bytes */
        opaque description<V>;        /* text, 0..2000 */
        uint32 rules_version;         /* 0: no rules */
        opaque rules_salt<V>;         /* 0 or 16 bytes */
        opaque rules_text<V>;         /* text, 0..16384 */
        opaque questions<V>;          /* vector of opaque<V>: one line, 1..500 bytes; at most 8 */
        uint8  history;               /* HistoryLevel */
        opaque welcome_message<V>;    /* text, 0..2000 */
        opaque inviter_handle<V>;     /* ASCII, 1..32 */
        opaque inviter_identity_key<V>; /* 32 */
        optional<IntakeKey> intake;   /* present for approval links */
        uint32 max_uses;
        uint64 expires_at;            /* seconds since the Unix epoch */
        uint64 created_at;
    } LinkPreview;

    PreviewTBS = V("cove invite preview v1") || V(LinkPreview)
    signature  = Ed25519(inviter identity key, PreviewTBS)
    inner      = V(LinkPreview) || V(signature) || zero padding to padded_length(len, 1024)
    sealed     = 0x01 || nonce[12] || ChaCha20-Poly1305(preview_key, nonce,
                                         aad = "cove invite preview v1" || link_id, inner)

``padded_length`` is app content's three-significant-bit rule with a 1024-byte
floor (docs/protocol/app-content.md §6), so the relay learns the preview's size
only coarsely. The nonce is random: a link's preview is re-sealed when the
moderators' intake key rotates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..codec import Reader, Writer
from ..crypto import RandomProvider
from ..crypto.stream import padded_length
from ..errors import CryptoError, DecodeError, UsageError
from .errors import InviteRefused
from .fields import (
    TIME_MAX,
    U32_MAX,
    check_bytes,
    check_text,
    check_uint,
    read_key,
    read_text,
    write_text,
)
from .join_settings import MAX_LINK_USES, HistoryLevel, IntakeKey, LinkMode
from .link import INVITE_SUITE, InviteLink
from .rules import MAX_RULES_BYTES, RULES_SALT_LEN

PREVIEW_LABEL: Final = b"cove invite preview v1"
PREVIEW_VERSION: Final = 1
MAX_QUESTIONS: Final = 8
MAX_QUESTION_BYTES: Final = 500
MAX_SEALED_PREVIEW: Final = 64 * 1024
_PAD_FLOOR: Final = 1024
_TYPE: Final = "LinkPreview"


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkPreview:
    group_id: bytes
    link_id: bytes
    mode: LinkMode
    group_name: str
    description: str = ""
    rules_version: int = 0
    rules_salt: bytes = b""
    rules_text: str = ""
    questions: tuple[str, ...] = ()
    history: HistoryLevel = HistoryLevel.NOTHING
    welcome_message: str = ""
    inviter_handle: str
    inviter_identity_key: bytes
    intake: IntakeKey | None = None
    max_uses: int
    expires_at: int
    created_at: int

    def __post_init__(self) -> None:
        if type(self.group_id) is not bytes or not 1 <= len(self.group_id) <= 255:
            raise UsageError("LinkPreview.group_id: 1..255 bytes")
        check_bytes("LinkPreview.link_id", self.link_id, 10)
        if not isinstance(self.mode, LinkMode) or not isinstance(self.history, HistoryLevel):
            raise UsageError("LinkPreview: mode and history are enums")
        check_text("LinkPreview.group_name", self.group_name, 200, "line", 1)
        check_text("LinkPreview.description", self.description, 2000, "text")
        check_uint("LinkPreview.rules_version", self.rules_version, U32_MAX)
        if self.rules_version:
            check_bytes("LinkPreview.rules_salt", self.rules_salt, RULES_SALT_LEN)
        elif self.rules_salt or self.rules_text:
            raise UsageError("LinkPreview: rules text without a rules version")
        check_text("LinkPreview.rules_text", self.rules_text, MAX_RULES_BYTES, "text")
        if type(self.questions) is not tuple or len(self.questions) > MAX_QUESTIONS:
            raise UsageError(f"LinkPreview.questions: a tuple of at most {MAX_QUESTIONS}")
        for q in self.questions:
            check_text("LinkPreview.questions", q, MAX_QUESTION_BYTES, "line", 1)
        check_text("LinkPreview.welcome_message", self.welcome_message, 2000, "text")
        check_text("LinkPreview.inviter_handle", self.inviter_handle, 32, "line", 1)
        if not self.inviter_handle.isascii():
            raise UsageError("LinkPreview.inviter_handle: ASCII")
        check_bytes("LinkPreview.inviter_identity_key", self.inviter_identity_key, 32)
        if (self.mode == LinkMode.APPROVAL) != (self.intake is not None):
            raise UsageError("LinkPreview: an intake key exactly for approval links")
        if self.mode == LinkMode.OPEN and self.questions:
            raise UsageError("LinkPreview: open links ask no questions")
        check_uint("LinkPreview.max_uses", self.max_uses, MAX_LINK_USES, 1)
        check_uint("LinkPreview.expires_at", self.expires_at, TIME_MAX)
        check_uint("LinkPreview.created_at", self.created_at, TIME_MAX)

    def __repr__(self) -> str:
        # the group's name, rules and questions are content: never in logs
        return f"LinkPreview(link_id={self.link_id.hex()}, mode={self.mode.name}, <content hidden>)"

    @property
    def rules(self) -> tuple[int, bytes, str] | None:
        """``(version, salt, text)`` or ``None``."""
        return (
            None
            if not self.rules_version
            else (self.rules_version, self.rules_salt, self.rules_text)
        )

    def to_bytes(self) -> bytes:
        w = Writer()
        w.uint8(PREVIEW_VERSION)
        w.opaque(self.group_id)
        w.opaque(self.link_id)
        w.uint8(int(self.mode))
        write_text(w, self.group_name)
        write_text(w, self.description)
        w.uint32(self.rules_version)
        w.opaque(self.rules_salt)
        write_text(w, self.rules_text)
        w.vector(self.questions, write_text)
        w.uint8(int(self.history))
        write_text(w, self.welcome_message)
        write_text(w, self.inviter_handle)
        w.opaque(self.inviter_identity_key)
        w.optional(self.intake, _write_intake)
        w.uint32(self.max_uses)
        w.uint64(self.expires_at)
        w.uint64(self.created_at)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> LinkPreview:
        r = Reader(data, type_name=_TYPE)
        if r.uint8() != PREVIEW_VERSION:
            raise r.error("preview version not supported")
        group_id = r.opaque(255)
        if not group_id:
            raise r.error("empty group id")
        link_id = read_key(r, "link id", 10)
        mode = r.uint8()
        if mode not in (1, 2):
            raise r.error("unknown link mode")
        name = read_text(r, "group name", 200, "line", 1)
        description = read_text(r, "description", 2000, "text")
        rules_version = r.uint32()
        salt = r.opaque(RULES_SALT_LEN)
        rules_text = read_text(r, "rules text", MAX_RULES_BYTES, "text")
        questions = r.vector(
            lambda rr: read_text(rr, "question", MAX_QUESTION_BYTES, "line", 1),
            MAX_QUESTIONS * (MAX_QUESTION_BYTES + 2),
        )
        history = r.uint8()
        if history > 2:
            raise r.error("unknown history level")
        welcome = read_text(r, "welcome message", 2000, "text")
        handle = read_text(r, "inviter handle", 32, "line", 1)
        identity_key = read_key(r, "inviter identity key", 32)
        intake = r.optional(_read_intake)
        max_uses, expires_at, created_at = r.uint32(), r.uint64(), r.uint64()
        r.expect_end()
        try:
            return cls(
                group_id=group_id,
                link_id=link_id,
                mode=LinkMode(mode),
                group_name=name,
                description=description,
                rules_version=rules_version,
                rules_salt=salt,
                rules_text=rules_text,
                questions=tuple(questions),
                history=HistoryLevel(history),
                welcome_message=welcome,
                inviter_handle=handle,
                inviter_identity_key=identity_key,
                intake=intake,
                max_uses=max_uses,
                expires_at=expires_at,
                created_at=created_at,
            )
        except UsageError as exc:
            raise DecodeError(str(exc), type_name=_TYPE) from None


def _write_intake(w: Writer, k: IntakeKey) -> None:
    w.uint32(k.generation)
    w.opaque(k.public_key)


def _read_intake(r: Reader) -> IntakeKey:
    return IntakeKey(r.uint32(), read_key(r, "intake public key", 32))


def preview_tbs(preview_bytes: bytes) -> bytes:
    w = Writer()
    w.opaque(PREVIEW_LABEL)
    w.opaque(preview_bytes)
    return w.getvalue()


def seal_preview(
    preview: LinkPreview, link: InviteLink, inviter_identity_private: bytes, rng: RandomProvider
) -> bytes:
    """Sign (inviter's identity key) and seal (the link's preview key) a preview."""
    if preview.link_id != link.link_id:
        raise UsageError("the preview is for another link")
    if INVITE_SUITE.signature_public_key(inviter_identity_private) != preview.inviter_identity_key:
        raise UsageError("the preview names another inviter than the signing key")
    if not link.pins(preview.inviter_handle, preview.inviter_identity_key):
        raise UsageError("the link pins another inviter")
    body = preview.to_bytes()
    signature = INVITE_SUITE.sign(inviter_identity_private, preview_tbs(body))
    w = Writer()
    w.opaque(body)
    w.opaque(signature)
    inner = w.getvalue()
    inner += bytes(padded_length(len(inner), _PAD_FLOOR) - len(inner))
    nonce = rng.random_bytes(12)
    ct = INVITE_SUITE.aead_encrypt(
        link.keys().preview_key, nonce, PREVIEW_LABEL + link.link_id, inner
    )
    sealed = b"\x01" + nonce + ct
    if len(sealed) > MAX_SEALED_PREVIEW:  # pragma: no cover - the field limits keep it smaller
        raise UsageError("preview too large")
    return sealed


def open_preview(sealed: bytes, link: InviteLink) -> LinkPreview:
    """Open and verify a sealed preview fetched from the relay.

    Refusals (:class:`InviteRefused`): ``invite.preview.undecryptable`` (altered
    bytes, another link's preview, a forgery without the link),
    ``invite.preview.malformed``, ``invite.preview.wrong_link``,
    ``invite.preview.inviter_mismatch`` (signed by someone the link does not
    name), ``invite.preview.bad_signature``.
    """
    if type(sealed) is not bytes or not 30 <= len(sealed) <= MAX_SEALED_PREVIEW or sealed[0] != 1:
        raise InviteRefused("invite.preview.malformed", "not a sealed preview")
    nonce, ct = sealed[1:13], sealed[13:]
    try:
        inner = INVITE_SUITE.aead_decrypt(
            link.keys().preview_key, nonce, PREVIEW_LABEL + link.link_id, ct
        )
    except CryptoError:
        raise InviteRefused("invite.preview.undecryptable") from None
    try:
        r = Reader(inner, type_name=_TYPE)
        body = r.opaque(MAX_SEALED_PREVIEW)
        signature = r.opaque(64)
        end = r.position
        if padded_length(end, _PAD_FLOOR) != len(inner) or inner.count(0, end) != len(inner) - end:
            raise DecodeError("bad padding", type_name=_TYPE)
        preview = LinkPreview.from_bytes(body)
    except DecodeError as exc:
        raise InviteRefused("invite.preview.malformed", str(exc)) from None
    if preview.link_id != link.link_id:
        raise InviteRefused("invite.preview.wrong_link")
    if not link.pins(preview.inviter_handle, preview.inviter_identity_key):
        raise InviteRefused("invite.preview.inviter_mismatch")
    try:
        INVITE_SUITE.verify(preview.inviter_identity_key, preview_tbs(body), signature)
    except CryptoError:
        raise InviteRefused("invite.preview.bad_signature") from None
    return preview


def check_preview_current(preview: LinkPreview, now: int) -> None:
    """``invite.link.expired`` once ``now`` (seconds) reaches ``expires_at``.

    A convenience for the joiner's client, which shows the reason before asking
    the relay; the relay enforces expiry itself with its own clock."""
    if now >= preview.expires_at:
        raise InviteRefused("invite.link.expired")


__all__ = [
    "MAX_QUESTIONS",
    "MAX_QUESTION_BYTES",
    "MAX_SEALED_PREVIEW",
    "PREVIEW_LABEL",
    "LinkPreview",
    "check_preview_current",
    "open_preview",
    "preview_tbs",
    "seal_preview",
]
