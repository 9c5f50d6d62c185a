"""The group's join settings: a GroupContext extension every member holds.

Type ``0xF0C2`` (private use, next to the policy extension ``0xF0C1``), listed
in ``required_capabilities``. It carries no human text — only what every member
must agree on to judge joins and posts::

    struct {
        uint8  version = 1;
        uint8  history;             /* HistoryLevel: 0 nothing, 1 titles+pins+rules, 2 full */
        uint8  open_links;          /* 0 off (default), 1 on: owner's choice */
        uint32 rules_version;       /* 0 = no rules yet */
        opaque rules_hash<V>;       /* empty iff rules_version = 0, else 32 bytes */
        optional<IntakeKey> intake; /* the moderators' intake key (join requests) */
        LinkEntry links<V>;         /* strictly increasing link_id, at most 16 */
    } JoinSettings;

    struct { uint32 generation; opaque public_key<V>; /* X25519, 32 */ } IntakeKey;

    struct {
        opaque link_id<V>;          /* 10 bytes */
        uint8  mode;                /* LinkMode: 1 approval, 2 open */
        opaque verify_key<V>;       /* Ed25519 public key of the link's signing key, 32 */
        opaque groupinfo_key<V>;    /* X25519 public key the GroupInfo is sealed to, 32 */
        uint32 max_uses;            /* 1..10000 */
        uint32 used;                /* 0..max_uses */
    } LinkEntry;

A revoked link is simply absent. Expiry is not here: group state holds no time
(members' clocks differ); the relay stops serving an expired link and the next
moderator commit drops it.

:func:`check_join_settings_change` is the pure rule the policy engine applies
to every commit that changes (or must change) this extension.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Final

from ..codec import Reader, Writer
from ..errors import DecodeError, UsageError
from ..mls.extensions import Extension, find_extension
from .errors import InviteRefused
from .fields import U32_MAX, check_bytes, check_uint, read_key

JOIN_SETTINGS_EXTENSION: Final = 0xF0C2
SETTINGS_VERSION: Final = 1
MAX_LINKS: Final = 16
MAX_LINK_USES: Final = 10000
_TYPE: Final = "JoinSettings"


class HistoryLevel(IntEnum):
    """What a newcomer receives of the group's past."""

    NOTHING = 0
    TITLES = 1  # thread titles, pinned resources and the rules
    FULL = 2  # everything the sharer still holds

    @property
    def label(self) -> str:
        return {0: "nothing", 1: "thread titles, pinned resources and rules", 2: "full history"}[
            int(self)
        ]


class LinkMode(IntEnum):
    APPROVAL = 1  # a join request sealed to the moderators; a moderator adds
    OPEN = 2  # an external commit with a link proof; no one needs to be online


@dataclass(frozen=True, slots=True)
class IntakeKey:
    generation: int
    public_key: bytes

    def __post_init__(self) -> None:
        check_uint("IntakeKey.generation", self.generation, U32_MAX)
        check_bytes("IntakeKey.public_key", self.public_key, 32)


@dataclass(frozen=True, slots=True)
class LinkEntry:
    link_id: bytes
    mode: LinkMode
    verify_key: bytes
    groupinfo_key: bytes
    max_uses: int
    used: int = 0

    def __post_init__(self) -> None:
        check_bytes("LinkEntry.link_id", self.link_id, 10)
        if not isinstance(self.mode, LinkMode):
            raise UsageError("LinkEntry.mode: expected a LinkMode")
        check_bytes("LinkEntry.verify_key", self.verify_key, 32)
        check_bytes("LinkEntry.groupinfo_key", self.groupinfo_key, 32)
        check_uint("LinkEntry.max_uses", self.max_uses, MAX_LINK_USES, 1)
        check_uint("LinkEntry.used", self.used, self.max_uses)

    @property
    def remaining(self) -> int:
        return self.max_uses - self.used


@dataclass(frozen=True, slots=True)
class JoinSettings:
    history: HistoryLevel = HistoryLevel.NOTHING
    open_links: bool = False
    rules_version: int = 0
    rules_hash: bytes = b""
    intake: IntakeKey | None = None
    links: tuple[LinkEntry, ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.history, HistoryLevel):
            raise UsageError("JoinSettings.history: expected a HistoryLevel")
        if type(self.open_links) is not bool:
            raise UsageError("JoinSettings.open_links: expected a bool")
        check_uint("JoinSettings.rules_version", self.rules_version, U32_MAX)
        if (self.rules_version == 0) != (self.rules_hash == b""):
            raise UsageError("JoinSettings: a rules hash exactly when there are rules")
        if self.rules_hash:
            check_bytes("JoinSettings.rules_hash", self.rules_hash, 32)
        links = tuple(sorted(self.links, key=lambda e: e.link_id))
        if len(links) > MAX_LINKS:
            raise UsageError(f"JoinSettings: at most {MAX_LINKS} links")
        if len({e.link_id for e in links}) != len(links):
            raise UsageError("JoinSettings: duplicate link id")
        object.__setattr__(self, "links", links)

    # -- reading -------------------------------------------------------------------

    def link(self, link_id: bytes) -> LinkEntry | None:
        for e in self.links:
            if e.link_id == link_id:
                return e
        return None

    @property
    def rules(self) -> tuple[int, bytes] | None:
        """``(version, hash)`` of the current rules, or ``None`` if the group has none."""
        return None if self.rules_version == 0 else (self.rules_version, self.rules_hash)

    # -- changing (each returns a new value) -----------------------------------------

    def with_link(self, entry: LinkEntry) -> JoinSettings:
        return replace(self, links=(*(e for e in self.links if e.link_id != entry.link_id), entry))

    def without_link(self, link_id: bytes) -> JoinSettings:
        """Revocation."""
        return replace(self, links=tuple(e for e in self.links if e.link_id != link_id))

    def with_use_counted(self, link_id: bytes) -> JoinSettings:
        """The settings after one more use of ``link_id`` (the count of a link join
        or of an approval)."""
        entry = self.link(link_id)
        if entry is None:
            raise UsageError("no such link")
        if entry.used >= entry.max_uses:
            raise UsageError("the link is used up")
        return self.with_link(replace(entry, used=entry.used + 1))

    def with_rules(self, rules_hash: bytes) -> JoinSettings:
        """The next rules version with this hash (see :mod:`.rules`)."""
        return replace(self, rules_version=self.rules_version + 1, rules_hash=rules_hash)

    # -- encoding ----------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        w = Writer()
        w.uint8(SETTINGS_VERSION)
        w.uint8(int(self.history))
        w.uint8(1 if self.open_links else 0)
        w.uint32(self.rules_version)
        w.opaque(self.rules_hash)
        w.optional(self.intake, _write_intake)
        w.vector(self.links, _write_link)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> JoinSettings:
        r = Reader(data, type_name=_TYPE)
        version = r.uint8()
        if version != SETTINGS_VERSION:
            raise r.error(f"join settings version {version} is not supported")
        raw_history = r.uint8()
        if raw_history > 2:
            raise r.error("unknown history level")
        open_links = r.boolean()
        rules_version = r.uint32()
        rules_hash = r.opaque(32)
        if (rules_version == 0) != (rules_hash == b"") or len(rules_hash) not in (0, 32):
            raise r.error("rules version and hash disagree")
        intake = r.optional(_read_intake)
        links = r.vector(_read_link, MAX_LINKS * 100)
        r.expect_end()
        if len(links) > MAX_LINKS:
            raise DecodeError(f"more than {MAX_LINKS} links", type_name=_TYPE)
        ids = [e.link_id for e in links]
        if any(a >= b for a, b in itertools.pairwise(ids)):
            raise DecodeError("links not strictly increasing", type_name=_TYPE)
        try:
            return cls(
                HistoryLevel(raw_history),
                open_links,
                rules_version,
                rules_hash,
                intake,
                tuple(links),
            )
        except UsageError as exc:  # pragma: no cover - every bound was read above
            raise DecodeError(str(exc), type_name=_TYPE) from None

    def extension(self) -> Extension:
        return Extension(JOIN_SETTINGS_EXTENSION, self.to_bytes())

    @classmethod
    def from_extensions(cls, extensions: Sequence[Extension]) -> JoinSettings | None:
        """The settings in a GroupContext's extensions, ``None`` if absent;
        :class:`~cove.protocol.errors.DecodeError` if malformed."""
        ext = find_extension(extensions, JOIN_SETTINGS_EXTENSION)
        return None if ext is None else cls.from_bytes(ext.extension_data)


def _write_intake(w: Writer, k: IntakeKey) -> None:
    w.uint32(k.generation)
    w.opaque(k.public_key)


def _read_intake(r: Reader) -> IntakeKey:
    return IntakeKey(r.uint32(), read_key(r, "intake public key", 32))


def _write_link(w: Writer, e: LinkEntry) -> None:
    w.opaque(e.link_id)
    w.uint8(int(e.mode))
    w.opaque(e.verify_key)
    w.opaque(e.groupinfo_key)
    w.uint32(e.max_uses)
    w.uint32(e.used)


def _read_link(r: Reader) -> LinkEntry:
    link_id = read_key(r, "link id", 10)
    mode = r.uint8()
    if mode not in (1, 2):
        raise r.error("unknown link mode")
    verify_key = read_key(r, "verify key", 32)
    groupinfo_key = read_key(r, "groupinfo key", 32)
    max_uses, used = r.uint32(), r.uint32()
    if not 1 <= max_uses <= MAX_LINK_USES or used > max_uses:
        raise r.error("link caps out of range")
    return LinkEntry(link_id, LinkMode(mode), verify_key, groupinfo_key, max_uses, used)


def with_join_settings(
    extensions: Iterable[Extension], settings: JoinSettings
) -> tuple[Extension, ...]:
    """``extensions`` with the join settings replaced (or appended), for a
    GroupContextExtensions proposal."""
    exts = tuple(extensions)
    new = settings.extension()
    out = [new if e.extension_type == JOIN_SETTINGS_EXTENSION else e for e in exts]
    if find_extension(exts, JOIN_SETTINGS_EXTENSION) is None:
        out.append(new)
    return tuple(out)


def _decode(data: bytes | None, *, rule: str) -> JoinSettings | None:
    if data is None:
        return None
    try:
        return JoinSettings.from_bytes(data)
    except DecodeError as exc:
        raise InviteRefused(rule, str(exc)) from None


def check_join_settings_change(
    before: bytes | None,
    after: bytes | None,
    *,
    may_manage: bool,
    may_configure: bool,
    pending_link_join: bytes | None,
) -> None:
    """Whether a commit may turn the extension ``before`` into ``after``.

    ``before``/``after`` are the extension data before and after the commit
    (``None``: absent; ``after`` equals ``before`` when the commit does not touch
    it). ``may_manage``: the committer may manage links, rules and history
    (moderators and up); ``may_configure``: she may switch open links (owners).
    ``pending_link_join``: the link id of the external join that produced the
    current epoch, if the commit before this one was one (every member knows it:
    she processed that commit, or made it). Raises :class:`InviteRefused`.

    Rules, in order: the extension is never removed (``invite.settings.removed``)
    and must decode (``invite.settings.malformed``); the commit right after a
    link join counts it — that link's ``used`` grows by exactly one, or the link
    is revoked (``invite.settings.count_missing``); a committer who may not
    manage may make exactly that change and nothing else
    (``invite.settings.not_allowed``); only owners switch open links
    (``invite.settings.owner_only``); a changed rules hash comes with the next
    version (``invite.settings.rules_version``); a link keeps its mode and keys,
    a new link starts at zero uses and ``used`` never shrinks
    (``invite.settings.count_wrong``).
    """
    if before is not None and after is None:
        raise InviteRefused("invite.settings.removed")
    old = _decode(before, rule="invite.settings.malformed")
    new = _decode(after, rule="invite.settings.malformed")
    if new is None:
        if pending_link_join is not None:  # pragma: no cover - a link join needs settings
            raise InviteRefused("invite.settings.count_missing")
        return
    base = old if old is not None else JoinSettings()
    expected = base
    if pending_link_join is not None:
        joined = base.link(pending_link_join)
        new_entry = new.link(pending_link_join)
        if joined is not None and new_entry is not None:
            if new_entry.used != joined.used + 1:
                raise InviteRefused("invite.settings.count_missing")
            expected = base.with_link(new_entry)
    if not may_manage:
        if new != expected:
            raise InviteRefused("invite.settings.not_allowed")
        return
    if new.open_links != base.open_links and not may_configure:
        raise InviteRefused("invite.settings.owner_only")
    rules_changed = (new.rules_version, new.rules_hash) != (base.rules_version, base.rules_hash)
    if rules_changed and new.rules_version != base.rules_version + 1:
        raise InviteRefused("invite.settings.rules_version")
    for entry in new.links:
        prior = base.link(entry.link_id)
        if prior is None:
            if entry.used != 0:
                raise InviteRefused("invite.settings.count_wrong", "a new link starts unused")
            continue
        if (entry.mode, entry.verify_key, entry.groupinfo_key) != (
            prior.mode,
            prior.verify_key,
            prior.groupinfo_key,
        ):
            raise InviteRefused("invite.settings.count_wrong", "a link's keys never change")
        if entry.used < prior.used:
            raise InviteRefused("invite.settings.count_wrong", "a use count never shrinks")


__all__ = [
    "JOIN_SETTINGS_EXTENSION",
    "MAX_LINKS",
    "MAX_LINK_USES",
    "SETTINGS_VERSION",
    "HistoryLevel",
    "IntakeKey",
    "JoinSettings",
    "LinkEntry",
    "LinkMode",
    "check_join_settings_change",
    "with_join_settings",
]
