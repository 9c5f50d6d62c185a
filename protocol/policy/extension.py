"""The group policy GroupContext extension (private-use type ``0xF0C1``).

Next to the group metadata extension (``0xF0C0``, :mod:`cove.protocol.group_metadata`)
every Cove group carries its policy in a GroupContext extension of private-use
type :data:`POLICY_EXTENSION` (RFC 9420 §13, §17.3). It says who holds a role
other than the default ``member``, keyed by the stable Cove identity key, and
holds no human text at all. Payload (TLS presentation language)::

    struct {
        opaque identity_key[32];   /* Ed25519 identity key of a Cove identity */
        uint8 role;                /* 1 = banned, 3 = moderator, 4 = owner */
    } RoleAssignment;

    struct {
        uint8 version;                     /* 1 */
        RoleAssignment assignments<V>;     /* strictly increasing by identity_key */
    } CovePolicy;

Canonical form: assignments sorted by ``identity_key`` (bytewise), no key twice,
no ``member`` (2) or ``outsider`` (0) entries, so every member who applies the
same changes produces identical bytes. Decoding refuses anything else and is
bounded by :data:`MAX_ASSIGNMENTS`.

Every group lists both private extension types in ``required_capabilities``,
so no client that does not enforce this policy can be a member.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from ..codec import Reader, Writer
from ..errors import DecodeError, UsageError
from ..group_metadata import GROUP_METADATA_EXTENSION
from ..invites.join_settings import JOIN_SETTINGS_EXTENSION, JoinSettings
from ..mls.extensions import Extension, ExtensionType, RequiredCapabilities, find_extension
from .roles import ASSIGNED_ROLES, MEMBER_ROLES, Role
from .roster import Roster

POLICY_EXTENSION: Final = 0xF0C1
POLICY_VERSION: Final = 1
IDENTITY_KEY_LEN: Final = 32
#: At most this many assignments (owners + moderators + bans); 33 bytes each.
MAX_ASSIGNMENTS: Final = 1000

#: The private extension types every Cove leaf must list in its capabilities.
COVE_EXTENSION_TYPES: Final = (GROUP_METADATA_EXTENSION, POLICY_EXTENSION, JOIN_SETTINGS_EXTENSION)

_TYPE = "CovePolicy"


@dataclass(frozen=True, slots=True)
class GroupPolicy:
    """The decoded policy extension: ``assignments`` maps identity key → role.

    Build with :func:`initial_policy` and change with :meth:`with_role`,
    :meth:`ban`, :meth:`unban` and :meth:`without`; each returns a new value.
    """

    assignments: Mapping[bytes, Role] = field(default_factory=dict)
    version: int = POLICY_VERSION

    def __post_init__(self) -> None:
        if self.version != POLICY_VERSION:
            raise UsageError(f"policy version {self.version} is not supported")
        if len(self.assignments) > MAX_ASSIGNMENTS:
            raise UsageError("too many role assignments")
        for key, role in self.assignments.items():
            if type(key) is not bytes or len(key) != IDENTITY_KEY_LEN:
                raise UsageError("an identity key is 32 bytes")
            if role not in ASSIGNED_ROLES:
                raise UsageError(f"role {role!r} is not written into the policy")
        # Canonical order, whatever order the mapping was built in; roles as Role.
        canonical = {k: Role(r) for k, r in sorted(self.assignments.items())}
        object.__setattr__(self, "assignments", canonical)

    def __hash__(self) -> int:
        return hash(self.to_bytes())

    # -- reading ------------------------------------------------------------------

    def assigned(self, identity_key: bytes) -> Role | None:
        """The role written for ``identity_key``, or ``None`` (the default)."""
        return self.assignments.get(identity_key)

    def role_of(self, identity_key: bytes, *, in_group: bool) -> Role:
        """The role of an identity: its assignment, else ``member`` if it is in the
        group, else ``outsider`` (``Role.NONE``)."""
        assigned = self.assignments.get(identity_key)
        if assigned is not None:
            return assigned
        return Role.MEMBER if in_group else Role.NONE

    def holders(self, role: Role) -> frozenset[bytes]:
        return frozenset(k for k, r in self.assignments.items() if r == role)

    @property
    def owners(self) -> frozenset[bytes]:
        return self.holders(Role.OWNER)

    @property
    def banned(self) -> frozenset[bytes]:
        return self.holders(Role.BANNED)

    def is_banned(self, identity_key: bytes) -> bool:
        return self.assignments.get(identity_key) == Role.BANNED

    def roles_in(self, roster: Roster) -> dict[int, Role]:
        """Leaf index → role of every member (for ``cove members``)."""
        return {m.leaf: self.role_of(m.identity_key, in_group=True) for m in roster}

    # -- changing -------------------------------------------------------------------

    def with_role(self, identity_key: bytes, role: Role) -> GroupPolicy:
        """The policy with ``identity_key`` set to ``role`` (``member``/``outsider`` =
        no entry)."""
        out = dict(self.assignments)
        if role in ASSIGNED_ROLES:
            out[identity_key] = role
        else:
            out.pop(identity_key, None)
        return GroupPolicy(out, self.version)

    def ban(self, identity_key: bytes) -> GroupPolicy:
        return self.with_role(identity_key, Role.BANNED)

    def unban(self, identity_key: bytes) -> GroupPolicy:
        if not self.is_banned(identity_key):
            raise UsageError("that identity is not banned")
        return self.with_role(identity_key, Role.NONE)

    def without(self, identity_keys: Iterable[bytes]) -> GroupPolicy:
        """Drop the member roles (owner, moderator) of identities leaving the group;
        bans stay. Every Remove of a moderator or owner carries this change."""
        gone = set(identity_keys)
        return GroupPolicy(
            {k: r for k, r in self.assignments.items() if not (k in gone and r in MEMBER_ROLES)},
            self.version,
        )

    # -- encoding -------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        inner = Writer()
        for key, role in self.assignments.items():
            inner.fixed(key)
            inner.uint8(role)
        w = Writer()
        w.uint8(self.version)
        w.opaque(inner.getvalue())
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> GroupPolicy:
        r = Reader(data, type_name=_TYPE)
        version = r.uint8()
        if version != POLICY_VERSION:
            raise r.error(f"policy version {version} is not supported")
        body = r.opaque(MAX_ASSIGNMENTS * (IDENTITY_KEY_LEN + 1))
        r.expect_end()
        if len(body) % (IDENTITY_KEY_LEN + 1):
            raise DecodeError("assignment list has a partial entry", type_name=_TYPE)
        out: dict[bytes, Role] = {}
        previous = b""
        for at in range(0, len(body), IDENTITY_KEY_LEN + 1):
            key, raw_role = body[at : at + IDENTITY_KEY_LEN], body[at + IDENTITY_KEY_LEN]
            if key <= previous:
                raise DecodeError("assignments not strictly increasing", type_name=_TYPE)
            if raw_role not in {int(x) for x in ASSIGNED_ROLES}:
                raise DecodeError(f"role {raw_role} cannot be assigned", type_name=_TYPE)
            out[key] = Role(raw_role)
            previous = key
        return cls(out, version)

    def extension(self) -> Extension:
        return Extension(POLICY_EXTENSION, self.to_bytes())

    @classmethod
    def from_extensions(cls, extensions: Sequence[Extension]) -> GroupPolicy | None:
        """The policy in a GroupContext's extensions; ``None`` if there is none.

        A malformed policy raises :class:`~cove.protocol.errors.DecodeError`."""
        ext = find_extension(extensions, POLICY_EXTENSION)
        return None if ext is None else cls.from_bytes(ext.extension_data)


def initial_policy(creator_identity_key: bytes) -> GroupPolicy:
    """The policy of a new group: its creator is the owner."""
    return GroupPolicy({creator_identity_key: Role.OWNER})


def required_capabilities_extension(
    base: RequiredCapabilities | None = None,
) -> Extension:
    """``required_capabilities`` listing Cove's private extension types (plus ``base``'s)."""
    base = base or RequiredCapabilities()
    types = tuple(base.extension_types) + tuple(
        t for t in COVE_EXTENSION_TYPES if t not in base.extension_types
    )
    required = RequiredCapabilities(types, base.proposal_types, base.credential_types)
    return Extension(ExtensionType.REQUIRED_CAPABILITIES, required.to_bytes())


def initial_extensions(creator_identity_key: bytes, *others: Extension) -> tuple[Extension, ...]:
    """The GroupContext extensions of a new group: ``others`` (e.g. the group
    metadata extension), ``required_capabilities``, the creator-owned policy and
    the default join settings (no links, no history for newcomers, open links off)."""
    return (
        *others,
        required_capabilities_extension(),
        initial_policy(creator_identity_key).extension(),
        JoinSettings().extension(),
    )


def with_policy(extensions: Sequence[Extension], policy: GroupPolicy) -> tuple[Extension, ...]:
    """``extensions`` with the policy extension replaced by ``policy`` (same place),
    for the GroupContextExtensions proposal of a role change, ban or unban."""
    new = policy.extension()
    out = [new if e.extension_type == POLICY_EXTENSION else e for e in extensions]
    if find_extension(extensions, POLICY_EXTENSION) is None:
        out.append(new)
    return tuple(out)


__all__ = [
    "COVE_EXTENSION_TYPES",
    "MAX_ASSIGNMENTS",
    "POLICY_EXTENSION",
    "POLICY_VERSION",
    "GroupPolicy",
    "initial_extensions",
    "initial_policy",
    "required_capabilities_extension",
    "with_policy",
]
