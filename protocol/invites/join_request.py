"""Join requests for approval links, and the decline sealed back to the requester.

The requester builds the request from the opened preview, signs it with her
identity key, proves she holds the link, and seals it with HPKE (RFC 9180 base
mode, X25519 / HKDF-SHA256 / ChaCha20-Poly1305) to the moderators' intake key
that the preview names (:mod:`.intake`). The relay stores the sealed bytes in
the link's queue and learns only their (padded) size and time::

    struct {
        uint8  version = 1;
        opaque request_id<V>;        /* 16 random bytes */
        opaque group_id<V>;          /* 1..255 */
        opaque link_id<V>;           /* 10 */
        uint32 intake_generation;
        opaque handle<V>;            /* ASCII, 1..32 */
        opaque identity_key<V>;      /* 32 */
        opaque key_package<V>;       /* MLSMessage(KeyPackage), at most 16384 bytes */
        opaque answers<V>;           /* vector of opaque<V> text 0..2000, at most 8 */
        uint32 rules_version;        /* 0 if the group has no rules */
        opaque rules_hash<V>;        /* 0 or 32 */
        opaque acceptance<V>;        /* 0 or 64: the rules acceptance signature (.rules) */
        opaque reply_key<V>;         /* X25519 public key for the decline, 32 */
        uint64 created_at;           /* requester's clock, seconds */
        opaque link_proof<V>;        /* 64: Ed25519(link signing key, LinkProofTBS) */
    } JoinRequestContent;

    LinkProofTBS = V("cove join request link v1") || V(group_id) || V(link_id)
                   || V(request_id) || V(identity_key) || V(reply_key)
    signature    = Ed25519(identity key, V("cove join request v1") || V(JoinRequestContent))
    inner        = V(JoinRequestContent) || V(signature) || zeros to padded_length(len, 2048)
    header       = 0x01 || link_id[10] || uint32(intake_generation)
    sealed       = header || enc[32] || HPKE.Seal(intake_pk, info = "cove join request v1"
                                                  || V(group_id), aad = header, inner)

Replay: a relay can hand the same sealed request to moderators again (after
it was approved, or after the person was removed). :class:`JoinRequestLog`
refuses any request id or KeyPackage it has handled (``invite.request.replayed``);
moderators share the handled ids through the moderators' group, so the log is
the same for all of them. An Add made from a request names the request id in
the moderator's record of the approval.

Decline (optional message, or none)::

    struct {
        uint8  version = 1;
        opaque request_id<V>;        /* 16 */
        opaque message<V>;           /* text 0..1000 */
    } Decline;
    header = 0x01 || request_id[16]
    sealed = header || enc[32] || HPKE.Seal(reply_key, info = "cove join decline v1"
                                            || V(group_id), aad = header,
                                            V(Decline) || zeros to padded_length(len, 1024))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from ..codec import Reader, Writer
from ..crypto import RandomProvider
from ..crypto.stream import padded_length
from ..errors import CryptoError, DecodeError, UsageError, ValidationError
from ..identity import CoveIdentity
from ..mls.framing import MLSMessage
from ..mls.key_package import KeyPackage
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
from .intake import IntakeKeyPair
from .join_settings import JoinSettings, LinkMode
from .link import INVITE_SUITE, InviteLink
from .preview import LinkPreview
from .rules import rules_hash, sign_acceptance, verify_acceptance

REQUEST_LABEL: Final = b"cove join request v1"
LINK_PROOF_LABEL: Final = b"cove join request link v1"
DECLINE_LABEL: Final = b"cove join decline v1"
MAX_ANSWER_BYTES: Final = 2000
MAX_DECLINE_BYTES: Final = 1000
MAX_KEY_PACKAGE: Final = 16384
MAX_SEALED_REQUEST: Final = 64 * 1024
MAX_SEALED_DECLINE: Final = 4096
_TYPE: Final = "JoinRequest"


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinRequest:
    request_id: bytes
    group_id: bytes
    link_id: bytes
    intake_generation: int
    handle: str
    identity_key: bytes
    key_package: bytes
    answers: tuple[str, ...]
    rules_version: int
    rules_hash: bytes
    acceptance: bytes
    reply_key: bytes
    created_at: int
    link_proof: bytes

    def __post_init__(self) -> None:
        check_bytes("JoinRequest.request_id", self.request_id, 16)
        if type(self.group_id) is not bytes or not 1 <= len(self.group_id) <= 255:
            raise UsageError("JoinRequest.group_id: 1..255 bytes")
        check_bytes("JoinRequest.link_id", self.link_id, 10)
        check_uint("JoinRequest.intake_generation", self.intake_generation, U32_MAX)
        check_text("JoinRequest.handle", self.handle, 32, "line", 1)
        if not self.handle.isascii():
            raise UsageError("JoinRequest.handle: ASCII")
        check_bytes("JoinRequest.identity_key", self.identity_key, 32)
        if type(self.key_package) is not bytes or not 1 <= len(self.key_package) <= MAX_KEY_PACKAGE:
            raise UsageError("JoinRequest.key_package: 1..16384 bytes")
        if type(self.answers) is not tuple or len(self.answers) > 8:
            raise UsageError("JoinRequest.answers: a tuple of at most 8")
        for a in self.answers:
            check_text("JoinRequest.answers", a, MAX_ANSWER_BYTES, "text")
        check_uint("JoinRequest.rules_version", self.rules_version, U32_MAX)
        if self.rules_version:
            check_bytes("JoinRequest.rules_hash", self.rules_hash, 32)
            check_bytes("JoinRequest.acceptance", self.acceptance, 64)
        elif self.rules_hash or self.acceptance:
            raise UsageError("JoinRequest: an acceptance without rules")
        check_bytes("JoinRequest.reply_key", self.reply_key, 32)
        check_uint("JoinRequest.created_at", self.created_at, TIME_MAX)
        check_bytes("JoinRequest.link_proof", self.link_proof, 64)

    def __repr__(self) -> str:
        rid = self.request_id.hex()
        return f"JoinRequest(request_id={rid}, handle={self.handle!r}, <answers hidden>)"

    def to_bytes(self) -> bytes:
        w = Writer()
        w.uint8(1)
        w.opaque(self.request_id)
        w.opaque(self.group_id)
        w.opaque(self.link_id)
        w.uint32(self.intake_generation)
        write_text(w, self.handle)
        w.opaque(self.identity_key)
        w.opaque(self.key_package)
        w.vector(self.answers, write_text)
        w.uint32(self.rules_version)
        w.opaque(self.rules_hash)
        w.opaque(self.acceptance)
        w.opaque(self.reply_key)
        w.uint64(self.created_at)
        w.opaque(self.link_proof)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> JoinRequest:
        r = Reader(data, type_name=_TYPE)
        if r.uint8() != 1:
            raise r.error("join request version not supported")
        request_id = read_key(r, "request id", 16)
        group_id = r.opaque(255)
        link_id = read_key(r, "link id", 10)
        generation = r.uint32()
        handle = read_text(r, "handle", 32, "line", 1)
        identity_key = read_key(r, "identity key", 32)
        key_package = r.opaque(MAX_KEY_PACKAGE)
        answers = r.vector(
            lambda rr: read_text(rr, "answer", MAX_ANSWER_BYTES, "text"), 8 * (MAX_ANSWER_BYTES + 2)
        )
        rules_version = r.uint32()
        rules_hash = r.opaque(32)
        acceptance = r.opaque(64)
        reply_key = read_key(r, "reply key", 32)
        created_at = r.uint64()
        link_proof = read_key(r, "link proof", 64)
        r.expect_end()
        try:
            return cls(
                request_id=request_id,
                group_id=group_id,
                link_id=link_id,
                intake_generation=generation,
                handle=handle,
                identity_key=identity_key,
                key_package=key_package,
                answers=tuple(answers),
                rules_version=rules_version,
                rules_hash=rules_hash,
                acceptance=acceptance,
                reply_key=reply_key,
                created_at=created_at,
                link_proof=link_proof,
            )
        except UsageError as exc:
            raise DecodeError(str(exc), type_name=_TYPE) from None


def link_proof_tbs(
    group_id: bytes, link_id: bytes, request_id: bytes, identity_key: bytes, reply_key: bytes
) -> bytes:
    w = Writer()
    for part in (LINK_PROOF_LABEL, group_id, link_id, request_id, identity_key, reply_key):
        w.opaque(part)
    return w.getvalue()


def _signed(label: bytes, content: bytes) -> bytes:
    w = Writer()
    w.opaque(label)
    w.opaque(content)
    return w.getvalue()


def _pad(inner: bytes, floor: int) -> bytes:
    return inner + bytes(padded_length(len(inner), floor) - len(inner))


def _check_padding(inner: bytes, end: int, floor: int, type_name: str) -> None:
    if padded_length(end, floor) != len(inner) or inner.count(0, end) != len(inner) - end:
        raise DecodeError("bad padding", type_name=type_name, offset=end)


@dataclass(frozen=True, slots=True)
class PendingRequest:
    """What the requester keeps: the request and the private key that opens a decline."""

    request: JoinRequest
    sealed: bytes
    reply_private: bytes

    def __repr__(self) -> str:
        return f"PendingRequest({self.request!r}, <reply key hidden>)"


def make_join_request(
    preview: LinkPreview,
    link: InviteLink,
    *,
    handle: str,
    identity_private: bytes,
    key_package: bytes,
    answers: tuple[str, ...],
    now: int,
    rng: RandomProvider,
) -> PendingRequest:
    """Build, sign and seal a request for an approval link's preview.

    If the preview shows rules, the request carries the requester's signed
    acceptance of exactly that version (she read them in the preview)."""
    if preview.mode != LinkMode.APPROVAL or preview.intake is None:
        raise UsageError("only approval links take join requests")
    if len(answers) != len(preview.questions):
        raise UsageError("one answer per question")
    identity_key = INVITE_SUITE.signature_public_key(identity_private)
    reply_private, reply_key = INVITE_SUITE.generate_kem_key_pair(rng)
    request_id = rng.random_bytes(16)
    rules_version, rules_hash_, acceptance = 0, b"", b""
    if preview.rules is not None:
        rules_version = preview.rules_version
        rules_hash_ = rules_hash(
            preview.group_id, rules_version, preview.rules_salt, preview.rules_text
        )
        acceptance = sign_acceptance(identity_private, preview.group_id, rules_version, rules_hash_)
    keys = link.keys()
    proof = INVITE_SUITE.sign(
        keys.signing_private,
        link_proof_tbs(preview.group_id, link.link_id, request_id, identity_key, reply_key),
    )
    request = JoinRequest(
        request_id=request_id,
        group_id=preview.group_id,
        link_id=link.link_id,
        intake_generation=preview.intake.generation,
        handle=handle,
        identity_key=identity_key,
        key_package=key_package,
        answers=answers,
        rules_version=rules_version,
        rules_hash=rules_hash_,
        acceptance=acceptance,
        reply_key=reply_key,
        created_at=now,
        link_proof=proof,
    )
    content = request.to_bytes()
    w = Writer()
    w.opaque(content)
    w.opaque(INVITE_SUITE.sign(identity_private, _signed(REQUEST_LABEL, content)))
    header = b"\x01" + link.link_id + preview.intake.generation.to_bytes(4, "big")
    enc, ct = INVITE_SUITE.hpke_seal(
        preview.intake.public_key,
        _signed(REQUEST_LABEL, preview.group_id),
        header,
        _pad(w.getvalue(), 2048),
        rng,
    )
    return PendingRequest(request, header + enc + ct, reply_private)


def request_header(sealed: bytes) -> tuple[bytes, int]:
    """``(link_id, intake_generation)`` from a sealed request's clear header
    (what the relay may check against the link it was posted to)."""
    if (
        type(sealed) is not bytes
        or not 47 + 16 <= len(sealed) <= MAX_SEALED_REQUEST
        or sealed[0] != 1
    ):
        raise InviteRefused("invite.request.malformed", "not a sealed join request")
    return sealed[1:11], int.from_bytes(sealed[11:15], "big")


def _key_package_identity(data: bytes) -> tuple[bytes, str]:
    try:
        body = MLSMessage.from_bytes(data).body
        if not isinstance(body, KeyPackage):
            raise InviteRefused("invite.request.key_package_mismatch", "not a KeyPackage")
        ident = CoveIdentity.from_credential(body.leaf_node.credential)
        ident.verify(body.leaf_node.signature_key)
    except (DecodeError, ValidationError, CryptoError) as exc:
        if isinstance(exc, InviteRefused):
            raise
        raise InviteRefused(
            "invite.request.key_package_mismatch", "not a Cove KeyPackage"
        ) from None
    return ident.identity_key, ident.handle


def open_join_request(
    sealed: bytes,
    intake_keys: Mapping[int, IntakeKeyPair],
    *,
    group_id: bytes,
    settings: JoinSettings,
    questions: tuple[str, ...],
) -> JoinRequest:
    """Open a sealed request (a moderator's client) and check everything in it.

    ``settings`` are the main group's current join settings; ``questions`` the
    link's questions (from its preview). Refusals are :class:`InviteRefused`
    with the ``invite.request.*`` rules, ``invite.link.revoked`` (the link is
    gone from the settings) and ``invite.link.used_up``."""
    link_id, generation = request_header(sealed)
    pair = intake_keys.get(generation)
    if pair is None:
        raise InviteRefused(
            "invite.request.undecryptable", f"no intake key of generation {generation}"
        )
    header, enc, ct = sealed[:15], sealed[15:47], sealed[47:]
    try:
        inner = INVITE_SUITE.hpke_open(
            pair.private_key, enc, _signed(REQUEST_LABEL, group_id), header, ct
        )
    except CryptoError:
        raise InviteRefused("invite.request.undecryptable") from None
    try:
        r = Reader(inner, type_name=_TYPE)
        content = r.opaque(MAX_SEALED_REQUEST)
        signature = r.opaque(64)
        _check_padding(inner, r.position, 2048, _TYPE)
        request = JoinRequest.from_bytes(content)
    except DecodeError as exc:
        raise InviteRefused("invite.request.malformed", str(exc)) from None
    if (request.group_id, request.link_id, request.intake_generation) != (
        group_id,
        link_id,
        generation,
    ):
        raise InviteRefused("invite.request.wrong_group")
    try:
        INVITE_SUITE.verify(request.identity_key, _signed(REQUEST_LABEL, content), signature)
    except CryptoError:
        raise InviteRefused("invite.request.bad_signature") from None
    entry = settings.link(link_id)
    if entry is None:
        raise InviteRefused("invite.link.revoked")
    if entry.mode != LinkMode.APPROVAL:
        raise InviteRefused("invite.request.wrong_group", "the link is not an approval link")
    try:
        INVITE_SUITE.verify(
            entry.verify_key,
            link_proof_tbs(
                group_id, link_id, request.request_id, request.identity_key, request.reply_key
            ),
            request.link_proof,
        )
    except CryptoError:
        raise InviteRefused("invite.request.bad_link_proof") from None
    if _key_package_identity(request.key_package) != (request.identity_key, request.handle):
        raise InviteRefused("invite.request.key_package_mismatch")
    if len(request.answers) != len(questions):
        raise InviteRefused("invite.request.answers_mismatch")
    current = settings.rules
    if current is not None:
        if (request.rules_version, request.rules_hash) != current:
            raise InviteRefused("invite.request.rules_not_accepted", "not the current version")
        try:
            verify_acceptance(
                request.identity_key,
                group_id,
                request.rules_version,
                request.rules_hash,
                request.acceptance,
            )
        except InviteRefused:
            raise InviteRefused("invite.request.rules_not_accepted", "bad signature") from None
    if entry.used >= entry.max_uses:
        raise InviteRefused("invite.link.used_up")
    return request


@dataclass(slots=True)
class JoinRequestLog:
    """The request ids and KeyPackages moderators have handled (approved or declined).

    :meth:`admit` refuses a replay (``invite.request.replayed``) and a request
    older than ``max_age`` seconds or dated in the future beyond ``skew``
    (``invite.request.stale``) by the moderator's clock — a local judgement
    about a request, not group state, so a local clock is fine here."""

    handled_ids: set[bytes] = field(default_factory=set)
    handled_key_packages: set[bytes] = field(default_factory=set)

    def check(self, request: JoinRequest, *, now: int, max_age: int, skew: int = 600) -> None:
        kp = INVITE_SUITE.hash(request.key_package)
        if request.request_id in self.handled_ids or kp in self.handled_key_packages:
            raise InviteRefused("invite.request.replayed")
        if request.created_at + max_age < now or request.created_at > now + skew:
            raise InviteRefused("invite.request.stale")

    def mark_handled(self, request: JoinRequest) -> None:
        self.handled_ids.add(request.request_id)
        self.handled_key_packages.add(INVITE_SUITE.hash(request.key_package))


# -- decline ----------------------------------------------------------------------


def seal_decline(request: JoinRequest, message: str, rng: RandomProvider) -> bytes:
    """The decline a moderator sends back (``message`` may be empty)."""
    check_text("decline message", message, MAX_DECLINE_BYTES, "text")
    w = Writer()
    w.uint8(1)
    w.opaque(request.request_id)
    write_text(w, message)
    outer = Writer()
    outer.opaque(w.getvalue())
    header = b"\x01" + request.request_id
    enc, ct = INVITE_SUITE.hpke_seal(
        request.reply_key,
        _signed(DECLINE_LABEL, request.group_id),
        header,
        _pad(outer.getvalue(), 1024),
        rng,
    )
    return header + enc + ct


def open_decline(sealed: bytes, pending: PendingRequest) -> str:
    """The message of a decline for ``pending`` (``invite.decline.*`` refusals)."""
    if (
        type(sealed) is not bytes
        or not 49 + 16 <= len(sealed) <= MAX_SEALED_DECLINE
        or sealed[0] != 1
    ):
        raise InviteRefused("invite.decline.malformed", "not a sealed decline")
    header, enc, ct = sealed[:17], sealed[17:49], sealed[49:]
    if header[1:] != pending.request.request_id:
        raise InviteRefused("invite.decline.malformed", "for another request")
    try:
        inner = INVITE_SUITE.hpke_open(
            pending.reply_private, enc, _signed(DECLINE_LABEL, pending.request.group_id), header, ct
        )
    except CryptoError:
        raise InviteRefused("invite.decline.undecryptable") from None
    try:
        r = Reader(inner, type_name="Decline")
        body = r.opaque(MAX_SEALED_DECLINE)
        _check_padding(inner, r.position, 1024, "Decline")
        b = Reader(body, type_name="Decline")
        if b.uint8() != 1 or read_key(b, "request id", 16) != pending.request.request_id:
            raise b.error("not this request's decline")
        message = read_text(b, "message", MAX_DECLINE_BYTES, "text")
        b.expect_end()
    except DecodeError as exc:
        raise InviteRefused("invite.decline.malformed", str(exc)) from None
    return message


__all__ = [
    "MAX_ANSWER_BYTES",
    "MAX_DECLINE_BYTES",
    "JoinRequest",
    "JoinRequestLog",
    "PendingRequest",
    "link_proof_tbs",
    "make_join_request",
    "open_decline",
    "open_join_request",
    "request_header",
    "seal_decline",
]
