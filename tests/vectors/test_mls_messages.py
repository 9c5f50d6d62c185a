"""Runner for messages.json (RFC 9420 §6, §7.2, §10, §12.1, §12.4, §12.4.3): wire syntax.

Format: a JSON array of 300 cases without a ``cipher_suite`` field (the
embedded objects were built with suite 1 in cases 0-99, suite 3 in 100-199
and suite 2 in 200-299; a parser does not care). Every case has 17 hex
fields, each one encoded struct:

=====================================  ==========================================
field                                  struct
=====================================  ==========================================
``mls_welcome``                        MLSMessage carrying a Welcome
``mls_group_info``                     MLSMessage carrying a GroupInfo
``mls_key_package``                    MLSMessage carrying a KeyPackage
``ratchet_tree``                       ``optional<Node> ratchet_tree<V>`` (extension payload)
``group_secrets``                      GroupSecrets
``add_proposal``                       Add (the bare body, not the Proposal union)
``update_proposal``                    Update
``remove_proposal``                    Remove
``pre_shared_key_proposal``            PreSharedKey
``re_init_proposal``                   ReInit
``external_init_proposal``             ExternalInit
``group_context_extensions_proposal``  GroupContextExtensions
``commit``                             Commit
``public_message_application``         MLSMessage carrying a PublicMessage (application)
``public_message_proposal``            MLSMessage carrying a PublicMessage (proposal)
``public_message_commit``              MLSMessage carrying a PublicMessage (commit)
``private_message``                    MLSMessage carrying a PrivateMessage
=====================================  ==========================================

We decode each field with its struct, re-encode it and require identical
bytes, and check that the decoded values are what the field name says
(wire formats, union arms, content types). No signature or MAC is checked:
the vectors' MACs may be junk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cove.protocol.codec import Struct, Writer
from cove.protocol.mls.commit import Commit
from cove.protocol.mls.credentials import CredentialType
from cove.protocol.mls.extensions import ExtensionType, find_extension
from cove.protocol.mls.framing import (
    ContentType,
    MLSMessage,
    PrivateMessage,
    PublicMessage,
    WireFormat,
)
from cove.protocol.mls.key_package import KeyPackage
from cove.protocol.mls.leaf_node import LeafNode, LeafNodeSource
from cove.protocol.mls.nodes import decode_ratchet_tree, encode_ratchet_tree
from cove.protocol.mls.proposals import (
    Add,
    ExternalInit,
    GroupContextExtensions,
    PreSharedKey,
    Proposal,
    ReInit,
    Remove,
    Update,
)
from cove.protocol.mls.psk import PSKType
from cove.protocol.mls.welcome import GroupInfo, GroupSecrets, Welcome
from tests.support.vectors import cases, h

STRUCTS: dict[str, type[Struct]] = {
    "mls_welcome": MLSMessage,
    "mls_group_info": MLSMessage,
    "mls_key_package": MLSMessage,
    "group_secrets": GroupSecrets,
    "add_proposal": Add,
    "update_proposal": Update,
    "remove_proposal": Remove,
    "pre_shared_key_proposal": PreSharedKey,
    "re_init_proposal": ReInit,
    "external_init_proposal": ExternalInit,
    "group_context_extensions_proposal": GroupContextExtensions,
    "commit": Commit,
    "public_message_application": MLSMessage,
    "public_message_proposal": MLSMessage,
    "public_message_commit": MLSMessage,
    "private_message": MLSMessage,
}

FIELDS = (*STRUCTS, "ratchet_tree")


def _roundtrip(field: str, data: bytes) -> Any:
    if field == "ratchet_tree":
        nodes = decode_ratchet_tree(data)
        assert encode_ratchet_tree(nodes) == data, field
        return nodes
    value = STRUCTS[field].from_bytes(data)
    assert value.to_bytes() == data, field
    return value


def _encoded_signature(signature: bytes) -> bytes:
    w = Writer()
    w.opaque(signature)
    return w.getvalue()


def _public(value: Any, content_type: ContentType) -> PublicMessage:
    assert isinstance(value, MLSMessage)
    assert value.wire_format == WireFormat.PUBLIC_MESSAGE
    body = value.body
    assert isinstance(body, PublicMessage)
    assert body.content.content_type == content_type
    assert (body.auth.confirmation_tag is not None) == (content_type == ContentType.COMMIT)
    assert (body.membership_tag is not None) == (body.content.sender.index is not None)
    return body


def _check_welcome(v: Any) -> None:
    assert isinstance(v, MLSMessage)
    assert v.wire_format == WireFormat.WELCOME
    assert isinstance(v.body, Welcome)
    assert v.body.secrets
    assert v.body.encrypted_group_info


def _check_group_info(v: Any) -> None:
    assert isinstance(v, MLSMessage)
    assert v.wire_format == WireFormat.GROUP_INFO
    gi = v.body
    assert isinstance(gi, GroupInfo)
    assert gi.to_bytes() == gi.tbs() + _encoded_signature(gi.signature)


def _check_key_package_body(kp: Any) -> None:
    assert isinstance(kp, KeyPackage)
    assert kp.version == 1
    assert kp.to_bytes() == kp.tbs() + _encoded_signature(kp.signature)
    leaf = kp.leaf_node
    assert leaf.leaf_node_source == LeafNodeSource.KEY_PACKAGE
    assert leaf.lifetime is not None
    assert leaf.parent_hash is None
    assert leaf.credential.credential_type in (CredentialType.BASIC, CredentialType.X509)
    # A key_package leaf is signed without group id and leaf index.
    assert leaf.to_bytes() == leaf.tbs() + _encoded_signature(leaf.signature)


def _check_key_package(v: Any) -> None:
    assert isinstance(v, MLSMessage)
    assert v.wire_format == WireFormat.KEY_PACKAGE
    _check_key_package_body(v.body)


def _check_tree(v: Any) -> None:
    assert isinstance(v, tuple)
    assert v
    assert v[-1] is not None
    for index, node in enumerate(v):
        assert node is None or isinstance(node.value, LeafNode) == (index % 2 == 0)


def _check_group_secrets(v: Any) -> None:
    assert isinstance(v, GroupSecrets)
    assert v.joiner_secret


def _check_add(v: Any) -> None:
    assert isinstance(v, Add)
    _check_key_package_body(v.key_package)


def _check_update(v: Any) -> None:
    assert isinstance(v, Update)
    assert v.leaf_node.leaf_node_source == LeafNodeSource.UPDATE
    assert v.leaf_node.lifetime is None
    assert v.leaf_node.parent_hash is None


def _check_remove(v: Any) -> None:
    assert isinstance(v, Remove)
    assert 0 <= v.removed < 2**32


def _check_psk(v: Any) -> None:
    assert isinstance(v, PreSharedKey)
    assert v.psk.psk_type in (PSKType.EXTERNAL, PSKType.RESUMPTION)


def _check_reinit(v: Any) -> None:
    assert isinstance(v, ReInit)
    assert v.version == 1


def _check_external_init(v: Any) -> None:
    assert isinstance(v, ExternalInit)
    assert v.kem_output


def _check_gce(v: Any) -> None:
    assert isinstance(v, GroupContextExtensions)
    types = [e.extension_type for e in v.extensions]
    assert len(types) == len(set(types))


def _check_commit(v: Any) -> None:
    assert isinstance(v, Commit)
    for p in v.proposals:
        assert (p.proposal is None) != (p.reference is None)
    if v.path is not None:
        assert v.path.leaf_node.leaf_node_source == LeafNodeSource.COMMIT
        assert v.path.leaf_node.parent_hash is not None


def _check_public_application(v: Any) -> None:
    assert isinstance(_public(v, ContentType.APPLICATION).content.content, bytes)


def _check_public_proposal(v: Any) -> None:
    assert isinstance(_public(v, ContentType.PROPOSAL).content.content, Proposal)


def _check_public_commit(v: Any) -> None:
    assert isinstance(_public(v, ContentType.COMMIT).content.content, Commit)


def _check_private(v: Any) -> None:
    assert isinstance(v, MLSMessage)
    assert v.wire_format == WireFormat.PRIVATE_MESSAGE
    assert isinstance(v.body, PrivateMessage)
    assert v.body.content_type in tuple(ContentType)
    assert v.body.ciphertext


CHECKS: dict[str, Callable[[Any], None]] = {
    "mls_welcome": _check_welcome,
    "mls_group_info": _check_group_info,
    "mls_key_package": _check_key_package,
    "ratchet_tree": _check_tree,
    "group_secrets": _check_group_secrets,
    "add_proposal": _check_add,
    "update_proposal": _check_update,
    "remove_proposal": _check_remove,
    "pre_shared_key_proposal": _check_psk,
    "re_init_proposal": _check_reinit,
    "external_init_proposal": _check_external_init,
    "group_context_extensions_proposal": _check_gce,
    "commit": _check_commit,
    "public_message_application": _check_public_application,
    "public_message_proposal": _check_public_proposal,
    "public_message_commit": _check_public_commit,
    "private_message": _check_private,
}


def test_every_field_has_a_struct_and_a_check() -> None:
    assert len(FIELDS) == 17
    assert set(CHECKS) == set(FIELDS)


@pytest.mark.vectors
@pytest.mark.parametrize("case", cases("messages.json"))
def test_messages(case: dict[str, Any]) -> None:
    assert set(case) == set(FIELDS)
    for field in FIELDS:
        value = _roundtrip(field, h(case[field]))
        CHECKS[field](value)
    # The objects of one case belong together: one cipher suite, and the
    # GroupInfo's ratchet_tree extension is the case's ratchet tree.
    group_info = MLSMessage.from_bytes(h(case["mls_group_info"])).body
    welcome = MLSMessage.from_bytes(h(case["mls_welcome"])).body
    key_package = MLSMessage.from_bytes(h(case["mls_key_package"])).body
    assert isinstance(group_info, GroupInfo)
    assert isinstance(welcome, Welcome)
    assert isinstance(key_package, KeyPackage)
    assert welcome.cipher_suite == group_info.group_context.cipher_suite
    assert key_package.cipher_suite == group_info.group_context.cipher_suite
    tree = find_extension(group_info.extensions, ExtensionType.RATCHET_TREE)
    assert tree is not None
    assert tree.extension_data == h(case["ratchet_tree"])
