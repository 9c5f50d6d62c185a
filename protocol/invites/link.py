"""Invite links: what an organizer prints on a flyer, and the keys it carries.

::

    https://relay.example.org/j/<link id>#<link material>
    link id       = 16 base32 characters  (10 bytes; all the relay ever learns)
    link material = 42 base32 characters  (26 bytes = secret 16 || inviter pin 10;
                                           in the fragment, never sent to the relay)

``base32`` is RFC 4648's alphabet in lower case without padding; the parser
accepts either case. The inviter pin is the first 10 bytes of the inviter's
identity fingerprint (:func:`cove.protocol.identity.fingerprint`), so the signed
preview can be checked against a key fixed by the link itself. Every key comes
from the link material with HKDF-SHA256 (RFC 5869)::

    prk = HKDF-Extract(salt = "cove invite link v1", ikm = secret || inviter_pin)
    K(label, L) = HKDF-Expand(prk, "cove link " || label, L)

    link_id        = K("id", 10)              the relay's name for the link; checks typing
    preview_key    = K("preview key", 32)     ChaCha20-Poly1305 key of the sealed preview
    capability     = K("capability", 32)      shown to the relay to register, fetch, request
    groupinfo_ikm  = K("groupinfo key", 32)   DeriveKeyPair(X25519): the GroupInfo's sealing key
    signing_seed   = K("signing key", 32)     Ed25519 key whose signatures prove use of the link

    capability_verifier = SHA-256("cove link capability verifier v1" || capability)

The relay stores ``link_id`` and ``capability_verifier`` only. Because the link
id is derived from the fragment, a mistyped link is detected before any request
(:class:`~.errors.InviteLinkError` ``mismatch``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Final

from ..crypto import RandomProvider, suite_for
from ..errors import UsageError
from ..identity import fingerprint
from .errors import InviteLinkError

#: Invite crypto uses one fixed set of primitives whatever the group's MLS suite:
#: X25519 HPKE, HKDF-SHA256, ChaCha20-Poly1305 and Ed25519 (MLS suite 3's).
INVITE_SUITE: Final = suite_for(3)

LINK_ID_LEN: Final = 10
SECRET_LEN: Final = 16
PIN_LEN: Final = 10
MATERIAL_LEN: Final = SECRET_LEN + PIN_LEN
LINK_PATH: Final = "j"
MAX_LINK_CHARS: Final = 512
_MAX_RAW_CHARS: Final = 2048

LINK_SALT: Final = b"cove invite link v1"
CAPABILITY_VERIFIER_LABEL: Final = b"cove link capability verifier v1"

_ID_CHARS: Final = 16  # ceil(10 * 8 / 5)
_MATERIAL_CHARS: Final = 42  # ceil(26 * 8 / 5)
_HOST: Final = re.compile(
    r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
)
_IPV6: Final = re.compile(r"\[[0-9a-f:.]{2,45}\]")
_SEGMENT: Final = re.compile(r"[a-z0-9._~-]{1,64}")
_LOOPBACK: Final = frozenset({"localhost", "127.0.0.1", "[::1]"})


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def _unb32(text: str, n_bytes: int) -> bytes | None:
    """The bytes of a canonical unpadded base32 string, or ``None``."""
    if not re.fullmatch(r"[a-z2-7]*", text):
        return None
    padded = text.upper() + "=" * (-len(text) % 8)
    try:
        raw = base64.b32decode(padded)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != n_bytes or _b32(raw) != text:  # unused trailing bits must be zero
        return None
    return raw


def _expand(prk: bytes, label: str, length: int) -> bytes:
    return INVITE_SUITE.kdf_expand(prk, b"cove link " + label.encode("ascii"), length)


def inviter_pin(handle: str, identity_key: bytes) -> bytes:
    """The 10-byte prefix of the inviter's identity fingerprint that a link carries."""
    return fingerprint(handle, identity_key)[:PIN_LEN]


@dataclass(frozen=True, slots=True)
class LinkKeys:
    """Everything derived from a link's material (see the module docstring)."""

    link_id: bytes
    preview_key: bytes
    capability: bytes
    groupinfo_private: bytes
    groupinfo_public: bytes
    signing_private: bytes
    signing_public: bytes

    @property
    def capability_verifier(self) -> bytes:
        return capability_verifier(self.capability)

    def __repr__(self) -> str:
        return f"LinkKeys(link_id={self.link_id.hex()}, <keys hidden>)"


def capability_verifier(capability: bytes) -> bytes:
    """What the relay stores for a link's capability (and compares in constant time)."""
    return hashlib.sha256(CAPABILITY_VERIFIER_LABEL + capability).digest()


def capability_matches(capability: bytes, verifier: bytes) -> bool:
    """The relay's check of a presented capability against its stored verifier."""
    if type(capability) is not bytes or len(capability) != 32:
        return False
    return hmac.compare_digest(capability_verifier(capability), verifier)


def derive_link_keys(secret: bytes, pin: bytes) -> LinkKeys:
    if type(secret) is not bytes or len(secret) != SECRET_LEN:
        raise UsageError(f"a link secret is {SECRET_LEN} bytes")
    if type(pin) is not bytes or len(pin) != PIN_LEN:
        raise UsageError(f"an inviter pin is {PIN_LEN} bytes")
    prk = INVITE_SUITE.kdf_extract(LINK_SALT, secret + pin)
    gi_private, gi_public = INVITE_SUITE.derive_key_pair(_expand(prk, "groupinfo key", 32))
    signing_private = _expand(prk, "signing key", 32)
    return LinkKeys(
        link_id=_expand(prk, "id", LINK_ID_LEN),
        preview_key=_expand(prk, "preview key", 32),
        capability=_expand(prk, "capability", 32),
        groupinfo_private=gi_private,
        groupinfo_public=gi_public,
        signing_private=signing_private,
        signing_public=INVITE_SUITE.signature_public_key(signing_private),
    )


@dataclass(frozen=True, slots=True)
class InviteLink:
    """A parsed or newly made invite link. ``repr`` never shows the secret."""

    relay_url: str
    link_id: bytes
    secret: bytes
    pin: bytes

    def __post_init__(self) -> None:
        keys = derive_link_keys(self.secret, self.pin)
        if keys.link_id != self.link_id:
            raise UsageError("link id does not belong to this secret")
        object.__setattr__(self, "relay_url", canonical_relay_url(self.relay_url))

    @property
    def url(self) -> str:
        """The link as text: ``<relay>/j/<link id>#<material>``."""
        return f"{self.relay_url}/{LINK_PATH}/{_b32(self.link_id)}#{_b32(self.secret + self.pin)}"

    @property
    def link_id_text(self) -> str:
        """The link id as it appears in the URL path (what relay endpoints take)."""
        return _b32(self.link_id)

    def keys(self) -> LinkKeys:
        return derive_link_keys(self.secret, self.pin)

    def pins(self, handle: str, identity_key: bytes) -> bool:
        """Whether the link names this inviter (constant time)."""
        return hmac.compare_digest(inviter_pin(handle, identity_key), self.pin)

    def __repr__(self) -> str:
        return f"InviteLink({self.relay_url}/{LINK_PATH}/{_b32(self.link_id)}#<secret hidden>)"

    __str__ = __repr__


def new_invite_link(
    relay_url: str, inviter_handle: str, inviter_identity_key: bytes, rng: RandomProvider
) -> InviteLink:
    """A fresh link for an inviter (16 random bytes from ``rng``)."""
    secret = rng.random_bytes(SECRET_LEN)
    if type(secret) is not bytes or len(secret) != SECRET_LEN:
        raise UsageError("the random provider returned the wrong number of bytes")
    pin = inviter_pin(inviter_handle, inviter_identity_key)
    return InviteLink(relay_url, derive_link_keys(secret, pin).link_id, secret, pin)


def link_id_from_text(text: str) -> bytes:
    """The link id of a relay path segment; :class:`InviteLinkError` ``link_id``."""
    raw = (
        _unb32(text.lower(), LINK_ID_LEN) if type(text) is str and len(text) == _ID_CHARS else None
    )
    if raw is None:
        raise InviteLinkError("link_id", "the link id is not 16 letters and digits 2-7")
    return raw


def link_id_text(link_id: bytes) -> str:
    return _b32(link_id)


# -- parsing --------------------------------------------------------------------


def _split_relay(text: str) -> tuple[str, str, str]:
    """``(scheme, authority, path)`` of a relay URL without fragment or query."""
    if "://" not in text:
        text = "https://" + text
    scheme, _, rest = text.partition("://")
    scheme = scheme.lower()
    if scheme not in ("https", "http"):
        raise InviteLinkError("scheme", "a Cove link starts with https://")
    authority, slash, path = rest.partition("/")
    return scheme, authority, slash + path


def _canonical_authority(scheme: str, authority: str) -> str:
    if "@" in authority:
        raise InviteLinkError("host", "the link's address must not contain a user name")
    authority = authority.lower()
    if authority.startswith("["):
        host, bracket, port = authority.partition("]")
        host += bracket
        if port and not port.startswith(":"):
            raise InviteLinkError("host", "the relay's address is malformed")
        port = port[1:] if port else ""
        if not _IPV6.fullmatch(host):
            raise InviteLinkError("host", "the relay's address is malformed")
    else:
        host, _, port = authority.partition(":")
        if not host or len(host) > 253 or not _HOST.fullmatch(host):
            raise InviteLinkError("host", "the relay's address is malformed")
    if port:
        if not port.isascii() or not port.isdigit() or len(port) > 5 or not 0 < int(port) < 65536:
            raise InviteLinkError("host", "the relay's port is malformed")
        port = "" if (scheme, int(port)) in (("https", 443), ("http", 80)) else str(int(port))
    if scheme == "http" and host not in _LOOPBACK:
        raise InviteLinkError("scheme", "a Cove link to another computer must use https://")
    return host + (":" + port if port else "")


def _canonical_prefix(path: str) -> str:
    if path in ("", "/"):
        return ""
    segments = path.strip("/").lower().split("/")
    if len(segments) > 8 or not all(_SEGMENT.fullmatch(s) for s in segments):
        raise InviteLinkError("path", "the relay's address has an unusual path")
    return "/" + "/".join(segments)


def canonical_relay_url(url: str) -> str:
    """``scheme://host[:port][/prefix]`` in lower case, no default port, no trailing slash.

    Relay path prefixes are compared in lower case (links are often typed or
    scanned in capitals), so a relay serves Cove under a lower-case prefix."""
    if type(url) is not str or not url.isascii() or len(url) > MAX_LINK_CHARS:
        raise InviteLinkError("host", "the relay's address is malformed")
    if any(c in url for c in "?#\\ \t\r\n"):
        raise InviteLinkError("path", "the relay's address must not contain ?, # or spaces")
    scheme, authority, path = _split_relay(url.strip())
    return f"{scheme}://{_canonical_authority(scheme, authority)}{_canonical_prefix(path)}"


def parse_invite_link(text: object, *, expected_relay: str | None = None) -> InviteLink:
    """Parse a link as typed, pasted or scanned.

    Surrounding spaces are ignored, letters may be in either case and a missing
    ``https://`` is assumed. Raises only :class:`~.errors.InviteLinkError`
    (``.code`` says what is wrong). With ``expected_relay`` a link to another
    relay is refused with code ``wrong_relay``.
    """
    if type(text) is not str:
        raise InviteLinkError("not_text", "an invite link is text")
    if len(text) > _MAX_RAW_CHARS:
        raise InviteLinkError("too_long", f"an invite link is at most {MAX_LINK_CHARS} characters")
    text = text.strip()
    if len(text) > MAX_LINK_CHARS:
        raise InviteLinkError("too_long", f"an invite link is at most {MAX_LINK_CHARS} characters")
    if not text.isascii() or any(c.isspace() or not c.isprintable() for c in text):
        raise InviteLinkError("not_a_link", "an invite link has no spaces or special characters")
    before, hash_mark, fragment = text.partition("#")
    marker = f"/{LINK_PATH}/"
    cut = before.lower().rfind(marker)
    if cut < 0:
        raise InviteLinkError("not_a_link", "this is not a Cove invite link (no /j/ in it)")
    if not hash_mark:
        raise InviteLinkError("secret", "the link is incomplete: the part after # is missing")
    if "?" in before:
        raise InviteLinkError("path", "an invite link has no ? part")
    relay_part, id_part = before[:cut], before[cut + len(marker) :]
    if relay_part.endswith("/"):
        raise InviteLinkError("path", "the relay's address has an unusual path")
    relay_url = canonical_relay_url(relay_part)
    if len(id_part) != _ID_CHARS or (link_id := _unb32(id_part.lower(), LINK_ID_LEN)) is None:
        raise InviteLinkError("link_id", "the link is mistyped: the part after /j/ is wrong")
    material = _unb32(fragment.lower(), MATERIAL_LEN) if len(fragment) == _MATERIAL_CHARS else None
    if material is None:
        raise InviteLinkError("secret", "the link is mistyped: the part after # is wrong")
    secret, pin = material[:SECRET_LEN], material[SECRET_LEN:]
    if not hmac.compare_digest(derive_link_keys(secret, pin).link_id, link_id):
        raise InviteLinkError(
            "mismatch", "the link is mistyped: its two parts do not belong together"
        )
    if expected_relay is not None and canonical_relay_url(expected_relay) != relay_url:
        raise InviteLinkError(
            "wrong_relay", f"this link is for the relay {relay_url}, not this one"
        )
    return InviteLink(relay_url, link_id, secret, pin)


__all__ = [
    "INVITE_SUITE",
    "LINK_ID_LEN",
    "MATERIAL_LEN",
    "MAX_LINK_CHARS",
    "PIN_LEN",
    "SECRET_LEN",
    "InviteLink",
    "LinkKeys",
    "canonical_relay_url",
    "capability_matches",
    "capability_verifier",
    "derive_link_keys",
    "inviter_pin",
    "link_id_from_text",
    "link_id_text",
    "new_invite_link",
    "parse_invite_link",
]
