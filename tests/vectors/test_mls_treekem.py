"""Runner for treekem.json (RFC 9420 §7.4-§7.6, §7.9).

Format: per case ``cipher_suite``, ``group_id``, ``epoch``,
``confirmed_transcript_hash``; ``ratchet_tree``, an encoded ``ratchet_tree``
payload; ``leaves_private``, per non-blank leaf {``index``, ``encryption_priv``,
``signature_priv``, ``path_secrets``: [{``node``, ``path_secret``}] for the
parent nodes that leaf knows}; and ``update_paths``, per sender {``sender``,
``update_path`` (encoded UpdatePath), ``path_secrets`` (indexed by leaf: the
path secret that leaf decrypts, ``null`` for the sender and blank leaves),
``commit_secret``, ``tree_hash_after``}. The provisional GroupContext is
(suite, group_id, epoch, tree hash after the merge, confirmed_transcript_hash,
no extensions); no leaves are excluded.

Checks, per case: each private state matches the public tree (every key's
node is non-blank and holds its public key); the tree validates. Per
UpdatePath: it merges with valid parent hashes and the merged tree has
``tree_hash_after``; every other member decrypts ``path_secrets[j]`` and gets
``commit_secret``, and its new private keys match the merged tree; a joiner
given ``path_secrets[j]`` derives the same keys for the common ancestor and
above. Then we create our own UpdatePath from the same sender (seeded
randomness), check the new tree (parent hashes, signatures, encoding
round-trip) and that every other member derives our commit secret and the
path secret we would put in its Welcome.

77 cases, 11 per suite, suites 1-7 (all run).
"""

from __future__ import annotations

from typing import Any

import pytest

from cove.protocol.crypto import SeededRandom, suite_for
from cove.protocol.mls.commit import UpdatePath
from cove.protocol.mls.group_context import GroupContext
from cove.protocol.mls.ratchet_tree import RatchetTree
from cove.protocol.mls.tree_math import NodeIndex, common_ancestor
from cove.protocol.mls.treekem import (
    TreePrivateKeys,
    apply_update_path,
    create_update_path,
    joiner_private_keys,
    merge_update_path,
)
from tests.support.vectors import cases, h


@pytest.mark.vectors
@pytest.mark.parametrize("case", cases("treekem.json"))
def test_treekem(case: dict[str, Any]) -> None:
    suite = suite_for(case["cipher_suite"])
    group_id = h(case["group_id"])
    tree = RatchetTree.from_bytes(suite, h(case["ratchet_tree"]))
    tree.validate(group_id)

    def group_context_for(tree_hash: bytes) -> GroupContext:
        return GroupContext(
            cipher_suite=case["cipher_suite"],
            group_id=group_id,
            epoch=case["epoch"],
            tree_hash=tree_hash,
            confirmed_transcript_hash=h(case["confirmed_transcript_hash"]),
        )

    keys: dict[int, TreePrivateKeys] = {}
    signers: dict[int, bytes] = {}
    leaf_privs: dict[int, bytes] = {}
    for lp in case["leaves_private"]:
        i = lp["index"]
        k = TreePrivateKeys.from_path_secrets(
            suite,
            i,
            h(lp["encryption_priv"]),
            {ps["node"]: h(ps["path_secret"]) for ps in lp["path_secrets"]},
        )
        k.check_against(tree)
        assert TreePrivateKeys.from_bytes(k.to_bytes()) == k
        keys[i] = k
        signers[i] = h(lp["signature_priv"])
        leaf_privs[i] = h(lp["encryption_priv"])
        leaf = tree.leaf(i)
        assert leaf is not None
        assert suite.signature_public_key(signers[i]) == leaf.signature_key
    assert sorted(keys) == [i for i, _ in tree.leaves()]

    for up in case["update_paths"]:
        sender = up["sender"]
        update_path = UpdatePath.from_bytes(h(up["update_path"]))
        merged = merge_update_path(tree, sender, update_path, group_id)
        merged.verify_parent_hashes()
        assert merged.tree_hash().hex() == up["tree_hash_after"]

        for j, want in enumerate(up["path_secrets"]):
            if j == sender or j not in keys:
                assert want is None
                continue
            applied = apply_update_path(
                tree,
                sender,
                update_path,
                keys[j],
                group_id=group_id,
                group_context_for=group_context_for,
            )
            assert applied.path_secret.hex() == want
            assert applied.commit_secret.hex() == up["commit_secret"]
            assert applied.tree.tree_hash().hex() == up["tree_hash_after"]
            applied.private_keys.check_against(applied.tree)

            joined = joiner_private_keys(applied.tree, j, leaf_privs[j], sender, h(want))
            lca = common_ancestor(NodeIndex(2 * j), NodeIndex(2 * sender))
            assert joined.get(lca) is not None
            for n, pair in joined.keys.items():
                assert applied.private_keys.get(n) == pair

        # Our own UpdatePath from the same sender.
        created = create_update_path(
            tree,
            sender,
            group_id=group_id,
            signature_private=signers[sender],
            group_context_for=group_context_for,
            rng=SeededRandom(f"treekem {sender}"),
        )
        assert UpdatePath.from_bytes(created.update_path.to_bytes()) == created.update_path
        created.tree.validate(group_id)
        created.private_keys.check_against(created.tree)
        assert created.group_context.tree_hash == created.tree.tree_hash()
        again = merge_update_path(tree, sender, created.update_path, group_id)
        assert again.tree_hash() == created.tree.tree_hash()
        for j in keys:
            if j == sender:
                continue
            applied = apply_update_path(
                tree,
                sender,
                created.update_path,
                keys[j],
                group_id=group_id,
                group_context_for=group_context_for,
            )
            assert applied.commit_secret == created.commit_secret
            assert applied.path_secret == created.path_secret_for(j)
            applied.private_keys.check_against(applied.tree)
