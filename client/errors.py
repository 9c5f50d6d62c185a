"""Errors of the reference client, each with the exit code the ``cove`` command uses."""

from __future__ import annotations


class ClientError(Exception):
    """Base of the client's errors; ``exit_code`` is what ``cove`` exits with."""

    exit_code = 1


class UsageProblem(ClientError):
    exit_code = 2


class WrongPassphraseError(ClientError):
    exit_code = 3


class UnknownGroup(ClientError):
    exit_code = 4


class UnknownHandle(ClientError):
    exit_code = 4


class UnknownMessage(ClientError):
    exit_code = 4


class NoPermission(ClientError):
    exit_code = 5


class RelayUnreachableError(ClientError):
    exit_code = 6


class KeyChanged(ClientError):
    """A known member's identity key changed: sending to them is blocked until ``trust``."""

    exit_code = 7


class NotInitialized(ClientError):
    exit_code = 8


class StoreDamaged(ClientError):
    exit_code = 9


class NotAMember(NoPermission):
    """This account is no longer a member of the group (removed, or it left)."""
