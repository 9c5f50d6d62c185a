"""Cove's protocol layer: pure, sans-I/O MLS (RFC 9420), wire envelopes and app content.

Nothing here opens a file or socket, reads the clock or draws randomness on its
own: time comes in as arguments and randomness through an injected provider.

The group API (``docs/protocol/group.md``)::

    Group, GroupConfig, CommitOutput, ApplicationMessage, ProposalMessage,
    AppliedCommit, Member, KeyPackageBundle, Credential, CipherSuite,
    OsRandom, SeededRandom
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .crypto import CipherSuite, OsRandom, RandomProvider, SeededRandom
    from .errors import (
        CoveError,
        CryptoError,
        DecodeError,
        ProtocolError,
        StateError,
        UnsupportedCipherSuite,
        UsageError,
        ValidationError,
    )
    from .mls.credentials import Credential
    from .mls.group import (
        ApplicationMessage,
        AppliedCommit,
        CommitOutput,
        Group,
        GroupConfig,
        Member,
        ProcessedMessage,
        ProposalMessage,
    )
    from .mls.key_package_bundle import KeyPackageBundle
    from .mls.validation import BasicCredentialValidator, CredentialValidator

# The names above are loaded on first use (PEP 562), so that importing one
# submodule (``cove.protocol.wire.limits``, say) does not load all of MLS:
# ``cove --help`` stays fast. ``from cove.protocol import Group`` works as before.
_LAZY = {
    **dict.fromkeys(("CipherSuite", "OsRandom", "RandomProvider", "SeededRandom"), ".crypto"),
    **dict.fromkeys(
        (
            "CoveError",
            "CryptoError",
            "DecodeError",
            "ProtocolError",
            "StateError",
            "UnsupportedCipherSuite",
            "UsageError",
            "ValidationError",
        ),
        ".errors",
    ),
    "Credential": ".mls.credentials",
    **dict.fromkeys(
        (
            "ApplicationMessage",
            "AppliedCommit",
            "CommitOutput",
            "Group",
            "GroupConfig",
            "Member",
            "ProcessedMessage",
            "ProposalMessage",
        ),
        ".mls.group",
    ),
    "KeyPackageBundle": ".mls.key_package_bundle",
    **dict.fromkeys(("BasicCredentialValidator", "CredentialValidator"), ".mls.validation"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "ApplicationMessage",
    "AppliedCommit",
    "BasicCredentialValidator",
    "CipherSuite",
    "CommitOutput",
    "CoveError",
    "Credential",
    "CredentialValidator",
    "CryptoError",
    "DecodeError",
    "Group",
    "GroupConfig",
    "KeyPackageBundle",
    "Member",
    "OsRandom",
    "ProcessedMessage",
    "ProposalMessage",
    "ProtocolError",
    "RandomProvider",
    "SeededRandom",
    "StateError",
    "UnsupportedCipherSuite",
    "UsageError",
    "ValidationError",
]
