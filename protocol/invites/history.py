"""What a newcomer receives of the group's past: the history bundle.

MLS forward secrecy means a newcomer cannot decrypt anything sent before she
joined. When the group shares history (``JoinSettings.history``), the member
who adds her (or, for an open link, the first moderator online after the join)
builds a **bundle** of the records the group chose to share, encrypts it like
an attachment under a fresh key (docs/protocol/app-content.md §8: chunked,
padded, key-committing), uploads it as a group blob, and sends a
``HistoryShare`` app record in the new epoch whose key is sealed to the
newcomer's leaf encryption key — so only she opens it; other members see that a
bundle exists, not its key::

    struct {
        uint8  version = 1;
        opaque group_id<V>;
        opaque newcomer<V>;          /* identity key, 32 */
        uint8  level;                /* HistoryLevel: 1 titles+pins+rules, 2 full */
        uint64 up_to;                /* the last relay log position covered */
        HistoryItem items<V>;        /* strictly increasing position, at most 20000 */
    } HistoryBundle;

    struct {
        uint64 position;             /* relay log sequence number of the original message */
        uint64 logged_at;            /* the relay's time for it, seconds */
        opaque author<V>;            /* the author's identity key, 32 */
        opaque author_handle<V>;     /* ASCII, 1..32 */
        opaque record<V>;            /* the padded app record (at most 65536 bytes) */
    } HistoryItem;

    key sealing: (kem_output, sealed_key) = EncryptWithLabel(newcomer leaf encryption_key,
        "cove history bundle key", V(group_id) || uint64(epoch) || V(newcomer), key)
        (RFC 9420 §5.1.3 with the group's cipher suite; the label is Cove's own)

What each level may hold (:func:`check_bundle`, run by the newcomer's client):

* ``TITLES``: ``ThreadRoot`` records with an empty body and no attachments (the
  sharer strips them: :func:`build_bundle`), ``Rules`` records, and records of
  the pinned-resources types passed in ``pin_types``;
* ``FULL``: any app record the sharer still holds (redacted records are gone
  from her store and are not shared). Records of types this client does not
  know are kept as app content says.

Ids are the originals, so the newcomer's replies (``Post.thread``) reach the
threads everyone else sees. The bundle is vouched for by the member who shares
it (her MLS signature covers the ``HistoryShare`` with the bundle's SHA-256);
the original authors' MLS signatures cannot be carried over, so clients show
"shared by <sharer>".
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Final

from ..app.records import ThreadRoot, UnknownRecordType, UnsupportedAppVersion, decode
from ..codec import Reader, Writer
from ..crypto import RandomProvider, Suite
from ..crypto.labels import decrypt_with_label, encrypt_with_label
from ..crypto.stream import (
    DEFAULT_CHUNK_SIZE,
    decrypt_attachment,
    encrypt_attachment,
    new_attachment_key,
)
from ..errors import CryptoError, DecodeError, UsageError
from .errors import InviteRefused
from .fields import (
    TIME_MAX,
    U64_MAX,
    check_bytes,
    check_text,
    check_uint,
    read_key,
    read_text,
    write_text,
)
from .join_settings import HistoryLevel

HISTORY_KEY_LABEL: Final = b"cove history bundle key"
MAX_ITEMS: Final = 20000
MAX_BUNDLE_BYTES: Final = 64 * 1024 * 1024
RULES_RECORD_TYPE: Final = 32
_TYPE: Final = "HistoryBundle"


@dataclass(frozen=True, slots=True)
class HistoryItem:
    position: int
    logged_at: int
    author: bytes
    author_handle: str
    record: bytes

    def __post_init__(self) -> None:
        check_uint("HistoryItem.position", self.position, U64_MAX)
        check_uint("HistoryItem.logged_at", self.logged_at, TIME_MAX)
        check_bytes("HistoryItem.author", self.author, 32)
        check_text("HistoryItem.author_handle", self.author_handle, 32, "line", 1)
        if type(self.record) is not bytes or not 1 <= len(self.record) <= 65536:
            raise UsageError("HistoryItem.record: 1..65536 bytes")

    def __repr__(self) -> str:
        return f"HistoryItem(position={self.position}, <record hidden>)"


@dataclass(frozen=True, slots=True)
class HistoryBundle:
    group_id: bytes
    newcomer: bytes
    level: HistoryLevel
    up_to: int
    items: tuple[HistoryItem, ...]

    def __post_init__(self) -> None:
        if type(self.group_id) is not bytes or not 1 <= len(self.group_id) <= 255:
            raise UsageError("HistoryBundle.group_id: 1..255 bytes")
        check_bytes("HistoryBundle.newcomer", self.newcomer, 32)
        if self.level not in (HistoryLevel.TITLES, HistoryLevel.FULL):
            raise UsageError("HistoryBundle.level: titles or full")
        check_uint("HistoryBundle.up_to", self.up_to, U64_MAX)
        if len(self.items) > MAX_ITEMS:
            raise UsageError(f"HistoryBundle: at most {MAX_ITEMS} items")
        positions = [i.position for i in self.items]
        if any(a >= b for a, b in itertools.pairwise(positions)):
            raise UsageError("HistoryBundle: positions must increase")
        if positions and positions[-1] > self.up_to:
            raise UsageError("HistoryBundle: an item after up_to")

    def __repr__(self) -> str:
        return f"HistoryBundle(level={self.level.name}, items={len(self.items)}, <content hidden>)"

    def to_bytes(self) -> bytes:
        w = Writer()
        w.uint8(1)
        w.opaque(self.group_id)
        w.opaque(self.newcomer)
        w.uint8(int(self.level))
        w.uint64(self.up_to)
        w.vector(self.items, _write_item)
        out = w.getvalue()
        if len(out) > MAX_BUNDLE_BYTES:
            raise UsageError("history bundle too large")
        return out

    @classmethod
    def from_bytes(cls, data: bytes) -> HistoryBundle:
        if len(data) > MAX_BUNDLE_BYTES:
            raise DecodeError("history bundle too large", type_name=_TYPE)
        r = Reader(data, type_name=_TYPE)
        if r.uint8() != 1:
            raise r.error("history bundle version not supported")
        group_id = r.opaque(255)
        newcomer = read_key(r, "newcomer", 32)
        level = r.uint8()
        if level not in (1, 2):
            raise r.error("unknown history level")
        up_to = r.uint64()
        try:
            items = r.vector(_read_item, MAX_BUNDLE_BYTES)
        except UsageError as exc:  # pragma: no cover - _read_item reads every bound first
            raise DecodeError(str(exc), type_name=_TYPE) from None
        r.expect_end()
        try:
            return cls(group_id, newcomer, HistoryLevel(level), up_to, tuple(items))
        except UsageError as exc:
            raise DecodeError(str(exc), type_name=_TYPE) from None


def _write_item(w: Writer, item: HistoryItem) -> None:
    w.uint64(item.position)
    w.uint64(item.logged_at)
    w.opaque(item.author)
    write_text(w, item.author_handle)
    w.opaque(item.record)


def _read_item(r: Reader) -> HistoryItem:
    position, logged_at = r.uint64(), r.uint64()
    if logged_at > TIME_MAX:
        raise r.error("logged_at out of range")
    author = read_key(r, "author", 32)
    handle = read_text(r, "author handle", 32, "line", 1)
    record = r.opaque(65536)
    if not record:
        raise r.error("empty record")
    return HistoryItem(position, logged_at, author, handle, record)


def _titles_item(item: HistoryItem, pin_types: frozenset[int]) -> HistoryItem | None:
    """``item`` as the titles level shares it (``None``: left out)."""
    try:
        record = decode(item.record)
    except DecodeError:
        return None
    if isinstance(record, ThreadRoot):
        stripped = ThreadRoot(id=record.id, sent_at=record.sent_at, title=record.title, body="")
        return replace(item, record=stripped.encode())
    kind = int(record.RECORD_TYPE)
    return item if kind == RULES_RECORD_TYPE or kind in pin_types else None


def build_bundle(
    group_id: bytes,
    newcomer: bytes,
    level: HistoryLevel,
    items: Iterable[HistoryItem],
    up_to: int,
    *,
    pin_types: frozenset[int] = frozenset(),
) -> HistoryBundle:
    """The bundle the sharer sends for ``level``: for ``TITLES`` thread roots are
    cut to their titles and everything but rules and pins is left out; for
    ``FULL`` every item is kept as given (pass only records you still show)."""
    if level == HistoryLevel.NOTHING:
        raise UsageError("this group shares no history")
    chosen = sorted(items, key=lambda i: i.position)
    if level == HistoryLevel.TITLES:
        kept = [_titles_item(i, pin_types) for i in chosen]
        chosen = [i for i in kept if i is not None]
    return HistoryBundle(group_id, newcomer, level, up_to, tuple(chosen))


def check_bundle(
    bundle: HistoryBundle,
    *,
    level: HistoryLevel,
    group_id: bytes,
    newcomer: bytes,
    pin_types: frozenset[int] = frozenset(),
) -> None:
    """The newcomer's check that a bundle is for her and within the group's setting
    (``invite.history.wrong_group``, ``invite.history.beyond_setting``,
    ``invite.history.malformed``)."""
    if bundle.group_id != group_id or bundle.newcomer != newcomer:
        raise InviteRefused("invite.history.wrong_group")
    if level == HistoryLevel.NOTHING or int(bundle.level) > int(level):
        raise InviteRefused("invite.history.beyond_setting", "the group shares less")
    for item in bundle.items:
        try:
            record = decode(item.record)
        except (UnknownRecordType, UnsupportedAppVersion):
            if bundle.level == HistoryLevel.FULL:
                continue  # kept and shown as "cannot display", as app content says
            raise InviteRefused("invite.history.beyond_setting", "an unknown record") from None
        except DecodeError as exc:
            raise InviteRefused("invite.history.malformed", str(exc)) from None
        if bundle.level == HistoryLevel.FULL:
            continue
        kind = int(record.RECORD_TYPE)
        if kind == RULES_RECORD_TYPE or kind in pin_types:
            continue
        if not (isinstance(record, ThreadRoot) and record.body == "" and not record.attachments):
            raise InviteRefused("invite.history.beyond_setting", "more than titles")


@dataclass(frozen=True, slots=True)
class SealedBundle:
    """The encrypted bundle to upload as a group blob, and what the ``HistoryShare``
    record carries."""

    blob: bytes
    key: bytes
    sha256: bytes
    size: int
    chunk_size: int

    def __repr__(self) -> str:
        return f"SealedBundle(size={self.size}, <key hidden>)"


def seal_bundle(
    bundle: HistoryBundle, rng: RandomProvider, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> SealedBundle:

    plaintext = bundle.to_bytes()
    key = new_attachment_key(rng)
    blob = encrypt_attachment(key, plaintext, chunk_size)
    return SealedBundle(blob, key, hashlib.sha256(blob).digest(), len(plaintext), chunk_size)


def open_bundle(
    blob: bytes, key: bytes, *, sha256: bytes, size: int, chunk_size: int
) -> HistoryBundle:
    if size > MAX_BUNDLE_BYTES:
        raise InviteRefused("invite.history.malformed", "too large")
    try:
        plaintext = decrypt_attachment(key, blob, chunk_size, sha256, size)
    except CryptoError:
        raise InviteRefused("invite.history.undecryptable") from None
    try:
        return HistoryBundle.from_bytes(plaintext)
    except DecodeError as exc:
        raise InviteRefused("invite.history.malformed", str(exc)) from None


def _key_context(group_id: bytes, epoch: int, newcomer: bytes) -> bytes:
    check_uint("epoch", epoch, U64_MAX)
    w = Writer()
    w.opaque(group_id)
    w.uint64(epoch)
    w.opaque(newcomer)
    return w.getvalue()


def seal_bundle_key(
    suite: Suite,
    leaf_encryption_key: bytes,
    *,
    group_id: bytes,
    epoch: int,
    newcomer: bytes,
    key: bytes,
    rng: RandomProvider,
) -> tuple[bytes, bytes]:
    """``(kem_output, sealed_key)`` for the ``HistoryShare`` record."""
    check_bytes("bundle key", key, 32)
    return encrypt_with_label(
        suite,
        leaf_encryption_key,
        HISTORY_KEY_LABEL,
        _key_context(group_id, epoch, newcomer),
        key,
        rng,
    )


def open_bundle_key(
    suite: Suite,
    leaf_private_key: bytes,
    *,
    group_id: bytes,
    epoch: int,
    newcomer: bytes,
    kem_output: bytes,
    sealed_key: bytes,
) -> bytes:
    try:
        key = decrypt_with_label(
            suite,
            leaf_private_key,
            HISTORY_KEY_LABEL,
            _key_context(group_id, epoch, newcomer),
            kem_output,
            sealed_key,
        )
    except CryptoError:
        raise InviteRefused(
            "invite.history.undecryptable", "the bundle key does not open"
        ) from None
    if len(key) != 32:
        raise InviteRefused("invite.history.malformed", "the bundle key is not 32 bytes")
    return key


def items_in_order(items: Sequence[HistoryItem]) -> tuple[HistoryItem, ...]:
    return tuple(sorted(items, key=lambda i: i.position))


__all__ = [
    "HISTORY_KEY_LABEL",
    "MAX_ITEMS",
    "HistoryBundle",
    "HistoryItem",
    "SealedBundle",
    "build_bundle",
    "check_bundle",
    "open_bundle",
    "open_bundle_key",
    "seal_bundle",
    "seal_bundle_key",
]
