"""Roles and capabilities of the default group policy (policy version 1).

Cove follows the role model of the IETF MIMI room-policy draft: every
participant holds exactly one role; a role is a list of capabilities; role
index 0 means "not in the group" and role index 1 is the ``banned`` state.
Cove's version-1 policy fixes three more roles (``member``, ``moderator``,
``owner``) and their capabilities in code, so the GroupContext carries only
who holds which role — never role names or descriptions (no human text).

Capability numbers are the MIMI registry's where Cove uses the same
capability; Cove-only capabilities use the registry's private range
(0xF000–0xFFFF).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Final


class Role(IntEnum):
    """Role indexes; a higher index is a higher rank (except ``NONE`` and ``BANNED``,
    which are not member roles at all)."""

    NONE = 0  # MIMI: not (or no longer) in the group
    BANNED = 1  # MIMI: the "banned" role, index 1
    MEMBER = 2
    MODERATOR = 3
    OWNER = 4

    @property
    def label(self) -> str:
        """An English word for the role, for the local user interface only."""
        return _LABELS[self]


_LABELS: Final = {
    Role.NONE: "outsider",
    Role.BANNED: "banned",
    Role.MEMBER: "member",
    Role.MODERATOR: "moderator",
    Role.OWNER: "owner",
}

#: Roles a member of the group can hold.
MEMBER_ROLES: Final = frozenset({Role.MEMBER, Role.MODERATOR, Role.OWNER})

#: Roles that are written into the policy extension (``member`` is the default: absent).
ASSIGNED_ROLES: Final = frozenset({Role.BANNED, Role.MODERATOR, Role.OWNER})


class Capability(IntEnum):
    """Capabilities, numbered as in the MIMI role-capabilities registry.

    The names are MIMI's in upper snake case (``canAddParticipant`` →
    ``CAN_ADD_PARTICIPANT``); Cove-only ones are in the private-use range.
    """

    CAN_ADD_PARTICIPANT = 0x0000
    CAN_REMOVE_PARTICIPANT = 0x0001
    CAN_REMOVE_SELF = 0x0006
    CAN_BAN = 0x000A
    CAN_UNBAN = 0x000B
    CAN_CHANGE_USER_ROLE = 0x000F
    CAN_SEND_MESSAGE = 0x0100
    CAN_REACT_TO_MESSAGE = 0x0105
    CAN_EDIT_OWN_MESSAGE = 0x0109
    CAN_DELETE_OWN_MESSAGE = 0x010A
    CAN_DELETE_OTHER_MESSAGE = 0x010B
    CAN_CHANGE_ROOM_NAME = 0x0300
    CAN_CHANGE_ROOM_DESCRIPTION = 0x0301
    CAN_SEND_MLS_REINIT_PROPOSAL = 0x0601
    # Cove-only (MIMI private use)
    CAN_UPDATE_OWN_CLIENT = 0xF000  # Update proposals and commit paths (key rotation)
    CAN_USE_PSK = 0xF001  # PreSharedKey proposals
    CAN_CHANGE_GROUP_EXTENSIONS = 0xF002  # any GroupContext extension not covered above
    CAN_PIN_MESSAGE = 0xF003  # pins (record type reserved; rule registered by its feature)


_MEMBER_CAPS: Final = frozenset(
    {
        Capability.CAN_REMOVE_SELF,
        Capability.CAN_SEND_MESSAGE,
        Capability.CAN_REACT_TO_MESSAGE,
        Capability.CAN_EDIT_OWN_MESSAGE,
        Capability.CAN_DELETE_OWN_MESSAGE,
        Capability.CAN_UPDATE_OWN_CLIENT,
    }
)
_MODERATOR_CAPS: Final = _MEMBER_CAPS | {
    Capability.CAN_ADD_PARTICIPANT,
    Capability.CAN_REMOVE_PARTICIPANT,
    Capability.CAN_BAN,
    Capability.CAN_UNBAN,
    Capability.CAN_DELETE_OTHER_MESSAGE,
    Capability.CAN_CHANGE_ROOM_NAME,
    Capability.CAN_CHANGE_ROOM_DESCRIPTION,
    Capability.CAN_PIN_MESSAGE,
}
_OWNER_CAPS: Final = _MODERATOR_CAPS | {
    Capability.CAN_CHANGE_USER_ROLE,
    Capability.CAN_SEND_MLS_REINIT_PROPOSAL,
    Capability.CAN_USE_PSK,
    Capability.CAN_CHANGE_GROUP_EXTENSIONS,
}

#: The capabilities of each role under policy version 1.
ROLE_CAPABILITIES: Final[Mapping[Role, frozenset[Capability]]] = {
    Role.NONE: frozenset(),
    Role.BANNED: frozenset(),
    Role.MEMBER: _MEMBER_CAPS,
    Role.MODERATOR: _MODERATOR_CAPS,
    Role.OWNER: _OWNER_CAPS,
}


def can(role: Role, capability: Capability) -> bool:
    """Whether ``role`` holds ``capability`` under policy version 1."""
    return capability in ROLE_CAPABILITIES[role]


def outranks(actor: Role, target: Role) -> bool:
    """Whether ``actor`` is of a strictly higher rank than ``target``.

    ``NONE`` and ``BANNED`` rank below every member role.
    """
    return int(actor) > int(target)


__all__ = [
    "ASSIGNED_ROLES",
    "MEMBER_ROLES",
    "ROLE_CAPABILITIES",
    "Capability",
    "Role",
    "can",
    "outranks",
]
