"""Cove's protocol layer: pure, sans-I/O MLS (RFC 9420), wire envelopes and app content.

Nothing here opens a file or socket, reads the clock or draws randomness on its
own: time comes in as arguments and randomness through an injected provider.

The group API (``docs/protocol/group.md``)::

    Group, GroupConfig, CommitOutput, ApplicationMessage, ProposalMessage,
    AppliedCommit, Member, KeyPackageBundle, Credential, CipherSuite,
    OsRandom, SeededRandom
"""

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
