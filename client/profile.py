"""Cove's MLS profile on the client: the cipher suite, leaf capabilities, group
configuration and credential validator every group of this client uses."""

from __future__ import annotations

from cove.protocol import GroupConfig
from cove.protocol.group_metadata import GROUP_METADATA_EXTENSION
from cove.protocol.identity import CoveCredentialValidator
from cove.protocol.mls.leaf_node import Capabilities

SUITE = 1

validator = CoveCredentialValidator()


def capabilities() -> Capabilities:
    """Cove's leaf capabilities: suite 1, basic credentials, the group-metadata extension."""
    return Capabilities(
        versions=(1,), cipher_suites=(SUITE,), extensions=(GROUP_METADATA_EXTENSION,),
        proposals=(), credentials=(1,),
    )  # fmt: skip


def group_config() -> GroupConfig:
    return GroupConfig()
