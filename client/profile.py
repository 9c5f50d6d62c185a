"""Cove's MLS profile on the client: the cipher suite, leaf capabilities, group
configuration and credential validator every group of this client uses."""

from __future__ import annotations

from cove.protocol import GroupConfig
from cove.protocol.identity import CoveCredentialValidator
from cove.protocol.mls.leaf_node import Capabilities
from cove.protocol.policy import COVE_EXTENSION_TYPES

SUITE = 1

validator = CoveCredentialValidator()


def capabilities() -> Capabilities:
    """Cove's leaf capabilities: suite 1, basic credentials, the group-metadata and
    policy extensions (``COVE_EXTENSION_TYPES``: every Cove group requires both)."""
    return Capabilities(
        versions=(1,), cipher_suites=(SUITE,), extensions=tuple(COVE_EXTENSION_TYPES),
        proposals=(), credentials=(1,),
    )  # fmt: skip


def group_config() -> GroupConfig:
    return GroupConfig()
