"""TreeKEM: a simulated group (adds as excluded joiners, removes, updates, commits)
where every member must agree on the tree and commit secret; rejection rules
V-TKEM-001..011; TreePrivateKeys encoding and redaction."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cove.protocol.crypto import SeededRandom, encrypt_with_label
from cove.protocol.errors import CryptoError, DecodeError, UsageError, ValidationError
from cove.protocol.mls.commit import HPKECiphertext, UpdatePath
from cove.protocol.mls.group_context import GroupContext
from cove.protocol.mls.leaf_node import LeafNode, LeafNodeSource
from cove.protocol.mls.ratchet_tree import RatchetTree
from cove.protocol.mls.tree_math import NodeIndex
from cove.protocol.mls.treekem import (
    UPDATE_PATH_NODE_LABEL,
    AppliedUpdatePath,
    CreatedUpdatePath,
    TreePrivateKeys,
    apply_update_path,
    create_update_path,
    encrypt_update_path,
    joiner_private_keys,
    merge_update_path,
    prepare_update_path,
)
from tests.unit.protocol.test_ratchet_tree import GROUP_ID, SUITE, Member, make_member, sign_leaf


class Sim:
    """A group driven through TreeKEM only: one public tree, per-member keys."""

    def __init__(self, founder: Member) -> None:
        self.tree = RatchetTree.create(SUITE, founder.leaf_node)
        self.members: dict[int, Member] = {0: founder}
        self.keys: dict[int, TreePrivateKeys] = {
            0: TreePrivateKeys.for_leaf(0, founder.encryption_private)
        }
        self.epoch = 0
        self.commits = 0

    def context_for(self, tree_hash: bytes) -> GroupContext:
        return GroupContext(1, GROUP_ID, self.epoch + 1, tree_hash, b"cth" * 8)

    def proposals(
        self, adds: Sequence[Member], removes: Sequence[int], updates: Sequence[int]
    ) -> tuple[RatchetTree, list[int]]:
        """Apply proposals to a copy (updates, removes, then adds, as §12.3 orders them)."""
        tree = self.tree.copy()
        for u in updates:
            m = self.members[u]
            rng = SeededRandom(f"update {u} {self.epoch}")
            enc_priv, enc_pub = SUITE.generate_kem_key_pair(rng)
            old = tree.leaf(u)
            assert old is not None
            unsigned = replace(
                old,
                encryption_key=enc_pub,
                leaf_node_source=LeafNodeSource.UPDATE,
                lifetime=None,
                parent_hash=None,
            )
            tree.update_leaf(u, sign_leaf(SUITE, unsigned, m.signature_private, u))
            self.members[u] = replace(m, encryption_private=enc_priv)
            self.keys[u] = TreePrivateKeys.for_leaf(u, enc_priv)
        for r in removes:
            tree.remove_leaf(r)
            del self.members[r]
            del self.keys[r]
        added = [tree.add_leaf(m.leaf_node) for m in adds]
        return tree, added

    def commit(
        self,
        committer: int,
        adds: Sequence[Member] = (),
        removes: Sequence[int] = (),
        updates: Sequence[int] = (),
    ) -> CreatedUpdatePath:
        tree, added = self.proposals(adds, removes, updates)
        self.commits += 1
        created = create_update_path(
            tree,
            committer,
            group_id=GROUP_ID,
            signature_private=self.members[committer].signature_private,
            group_context_for=self.context_for,
            rng=SeededRandom(f"commit {self.commits}"),
            excluded=set(added),
        )
        created.tree.validate(GROUP_ID)
        assert created.group_context.tree_hash == created.tree.tree_hash()
        excluded_nodes = {2 * a for a in added}
        for (_, s), upn in zip(created.prepared.path, created.update_path.nodes, strict=True):
            want = [n for n in created.tree.resolution(s) if n not in excluded_nodes]
            assert len(upn.encrypted_path_secret) == len(want)

        new_keys: dict[int, TreePrivateKeys] = {committer: created.private_keys}
        for j, keys in self.keys.items():
            if j == committer:
                continue
            applied = apply_update_path(
                tree,
                committer,
                created.update_path,
                keys.pruned(tree),
                group_id=GROUP_ID,
                group_context_for=self.context_for,
                excluded=set(added),
            )
            assert applied.commit_secret == created.commit_secret
            assert applied.tree == created.tree
            assert applied.path_secret == created.path_secret_for(j)
            new_keys[j] = applied.private_keys
        for leaf, m in zip(added, adds, strict=True):
            new_keys[leaf] = joiner_private_keys(
                created.tree,
                leaf,
                m.encryption_private,
                committer,
                created.path_secret_for(leaf),
            )
            self.members[leaf] = m
        for keys in new_keys.values():
            keys.check_against(created.tree)
        # Everyone knows the root key when the root is set (it is blank when the
        # committer's copath at the top is empty, e.g. leaf 0 removed in [_, B]).
        root = created.tree.root
        if created.tree.n_leaves > 1 and created.tree.node(root) is not None:
            assert all(k.get(root) is not None for k in new_keys.values())
        self.keys = new_keys
        self.tree = created.tree
        self.epoch += 1
        return created


def _grown(n: int) -> Sim:
    """A group of ``n`` members built the way the vectors' get_tree(n) is."""
    sim = Sim(make_member("m0"))
    for i in range(n - 1):
        sim.commit(i, adds=[make_member(f"m{i + 1}")])
    return sim


# --------------------------------------------------------------------------- agreement


def test_scenario_with_adds_removes_updates_and_unmerged_leaves() -> None:
    sim = _grown(5)
    sim.commit(0, adds=[make_member("a"), make_member("b")])  # two excluded joiners
    sim.commit(6, removes=[2], updates=[4])
    sim.commit(3, adds=[make_member("c")], removes=[5])
    assert sim.tree.member_count() == 6
    # A commit that adds without touching the new leaf's path leaves unmerged leaves.
    tree, _ = sim.proposals([make_member("d")], [], [])
    unmerged = [
        n
        for n in range(1, tree.n_nodes, 2)
        if (p := tree.parent_node(n)) is not None and p.unmerged_leaves
    ]
    assert unmerged
    tree.validate(GROUP_ID)


@settings(max_examples=12, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 99), st.integers(0, 2), st.booleans(), st.booleans()),
        min_size=1,
        max_size=6,
    )
)
def test_random_commits_keep_every_member_in_agreement(
    steps: list[tuple[int, int, bool, bool]],
) -> None:
    sim = Sim(make_member("founder"))
    tag = 0
    for x, n_adds, remove, update in steps:
        leaves = sorted(sim.members)
        committer = leaves[x % len(leaves)]
        others = [i for i in leaves if i != committer]
        removes = [others[x % len(others)]] if remove and others else []
        rest = [i for i in others if i not in removes]
        updates = [rest[(x // 3) % len(rest)]] if update and rest else []
        adds = []
        for _ in range(n_adds):
            tag += 1
            adds.append(make_member(f"r{tag}"))
        sim.commit(committer, adds, removes, updates)


def test_single_member_commit_has_an_empty_path() -> None:
    sim = Sim(make_member("alone"))
    created = sim.commit(0)
    assert created.update_path.nodes == ()
    assert created.path_secrets == {}
    leaf = created.tree.leaf(0)
    assert leaf is not None and leaf.parent_hash == b""
    assert len(created.commit_secret) == 32


def test_prepare_then_encrypt_equals_create() -> None:
    sim = _grown(3)
    prepared = prepare_update_path(
        sim.tree,
        1,
        group_id=GROUP_ID,
        signature_private=sim.members[1].signature_private,
        rng=SeededRandom("p"),
    )
    context = sim.context_for(prepared.tree_hash)
    path = encrypt_update_path(prepared, context, SeededRandom("e"))
    applied = apply_update_path(
        sim.tree, 1, path, sim.keys[0], group_id=GROUP_ID, group_context_for=sim.context_for
    )
    assert applied.commit_secret == prepared.commit_secret
    with pytest.raises(UsageError):  # the context must carry the new tree hash
        encrypt_update_path(prepared, replace(context, tree_hash=bytes(32)), SeededRandom(1))


@pytest.mark.parametrize("members", [4, 5])
def test_external_commit_sender_in_a_blank_or_new_leaf(members: int) -> None:
    sim = _grown(members)
    if members == 5:
        sim.commit(0, removes=[2])  # leaves a blank leaf 2
    tree = sim.tree
    joiner = make_member("external")
    sender = tree.free_leaf()
    assert sender == (4 if members == 4 else 2)
    created = create_update_path(
        tree,
        sender,
        group_id=GROUP_ID,
        signature_private=joiner.signature_private,
        group_context_for=sim.context_for,
        rng=SeededRandom("external"),
        leaf_template=joiner.leaf_node,
    )
    created.tree.validate(GROUP_ID)
    assert created.tree.leaf(sender) == created.update_path.leaf_node
    for keys in sim.keys.values():
        applied = apply_update_path(
            tree,
            sender,
            created.update_path,
            keys,
            group_id=GROUP_ID,
            group_context_for=sim.context_for,
        )
        assert applied.commit_secret == created.commit_secret
        assert applied.tree == created.tree
        applied.private_keys.check_against(applied.tree)
    with pytest.raises(UsageError):  # not the leaf an Add would take
        merge_update_path(tree, tree.n_leaves + 1, created.update_path, GROUP_ID)


# --------------------------------------------------------------------------- rejections


def _setup() -> tuple[Sim, CreatedUpdatePath, RatchetTree]:
    """A 5-member group; member 1 has built (not yet sent) a commit."""
    sim = _grown(5)
    created = create_update_path(
        sim.tree,
        1,
        group_id=GROUP_ID,
        signature_private=sim.members[1].signature_private,
        group_context_for=sim.context_for,
        rng=SeededRandom("setup"),
    )
    return sim, created, sim.tree


def _apply(sim: Sim, tree: RatchetTree, path: UpdatePath, me: int = 4) -> AppliedUpdatePath:
    return apply_update_path(
        tree, 1, path, sim.keys[me], group_id=GROUP_ID, group_context_for=sim.context_for
    )


def _rule(sim: Sim, tree: RatchetTree, path: UpdatePath, me: int = 4) -> str:
    with pytest.raises(ValidationError) as e:
        _apply(sim, tree, path, me)
    return e.value.rule


def test_the_setup_commit_is_accepted() -> None:
    sim, created, tree = _setup()
    for me in (0, 2, 3, 4):
        assert _apply(sim, tree, created.update_path, me).commit_secret == created.commit_secret


def test_wrong_length_update_path() -> None:
    sim, created, tree = _setup()
    path = created.update_path
    assert _rule(sim, tree, replace(path, nodes=path.nodes[:-1])) == "V-TKEM-001"
    assert _rule(sim, tree, replace(path, nodes=(*path.nodes, path.nodes[0]))) == "V-TKEM-001"


def test_wrong_number_of_ciphertexts() -> None:
    sim, created, tree = _setup()
    path = created.update_path
    top = path.nodes[-1]
    short = replace(top, encrypted_path_secret=top.encrypted_path_secret[:-1])
    assert _rule(sim, tree, replace(path, nodes=(*path.nodes[:-1], short))) == "V-TKEM-002"


def test_a_path_secret_that_derives_a_different_public_key() -> None:
    sim, _, tree = _setup()
    prepared = prepare_update_path(
        tree,
        1,
        group_id=GROUP_ID,
        signature_private=sim.members[1].signature_private,
        rng=SeededRandom("evil"),
    )
    # A malicious committer: consistent keys and parent hashes, wrong secret for the root.
    root = prepared.path[-1][0]
    bad = replace(prepared, path_secrets={**prepared.path_secrets, root: bytes(32)})
    path = encrypt_update_path(bad, sim.context_for(prepared.tree_hash), SeededRandom(2))
    assert _rule(sim, tree, path, me=4) == "V-TKEM-003"  # decrypts the root's secret
    # Member 0 decrypts the genuine secret of node 1 and derives the root's from it:
    # only the recipients of the bad ciphertext can notice.
    assert _apply(sim, tree, path, me=0).commit_secret == prepared.commit_secret


def test_leaf_source_signature_and_key_reuse() -> None:
    sim, created, tree = _setup()
    path = created.update_path
    leaf = path.leaf_node
    signer = sim.members[1].signature_private

    def with_leaf(new: LeafNode) -> UpdatePath:
        return replace(path, leaf_node=new)

    as_update = sign_leaf(
        SUITE, replace(leaf, leaf_node_source=LeafNodeSource.UPDATE, parent_hash=None), signer, 1
    )
    assert _rule(sim, tree, with_leaf(as_update)) == "V-TKEM-004"
    assert _rule(sim, tree, with_leaf(replace(leaf, signature=bytes(64)))) == "V-TKEM-005"
    # Signed for another leaf index: the TBS binds the index.
    assert _rule(sim, tree, with_leaf(sign_leaf(SUITE, leaf, signer, 2))) == "V-TKEM-005"
    old = tree.leaf(1)
    assert old is not None
    same_key = sign_leaf(SUITE, replace(leaf, encryption_key=old.encryption_key), signer, 1)
    assert _rule(sim, tree, with_leaf(same_key)) == "V-TKEM-006"
    other = tree.leaf(3)
    assert other is not None
    reused = sign_leaf(SUITE, replace(leaf, encryption_key=other.encryption_key), signer, 1)
    assert _rule(sim, tree, with_leaf(reused)) == "V-TKEM-007"
    p = tree.parent_node(5)  # not on the sender's path
    assert p is not None
    node0 = replace(path.nodes[0], encryption_key=p.encryption_key)
    assert _rule(sim, tree, replace(path, nodes=(node0, *path.nodes[1:]))) == "V-TKEM-007"
    twice = replace(path.nodes[0], encryption_key=path.nodes[1].encryption_key)
    assert _rule(sim, tree, replace(path, nodes=(twice, *path.nodes[1:]))) == "V-TKEM-007"
    bad_ph = sign_leaf(SUITE, replace(leaf, parent_hash=bytes(32)), signer, 1)
    assert _rule(sim, tree, with_leaf(bad_ph)) == "V-TKEM-008"
    # A node key swapped in the path breaks the parent-hash chain the leaf signed.
    fresh = SUITE.generate_kem_key_pair(SeededRandom("k"))[1]
    swapped = replace(path.nodes[-1], encryption_key=fresh)
    assert _rule(sim, tree, replace(path, nodes=(*path.nodes[:-1], swapped))) == "V-TKEM-008"
    stolen = tree.leaf(0)
    assert stolen is not None
    impostor = replace(leaf, signature_key=stolen.signature_key)
    impostor = sign_leaf(SUITE, impostor, sim.members[0].signature_private, 1)
    assert _rule(sim, tree, with_leaf(impostor)) == "V-TKEM-009"


def test_tampered_ciphertext_is_a_crypto_error() -> None:
    sim, created, tree = _setup()
    path = created.update_path
    top = path.nodes[-1]
    cts = list(top.encrypted_path_secret)
    cts = [HPKECiphertext(ct.kem_output, bytes(len(ct.ciphertext))) for ct in cts]
    bad = replace(path, nodes=(*path.nodes[:-1], replace(top, encrypted_path_secret=tuple(cts))))
    with pytest.raises(CryptoError):
        _apply(sim, tree, bad)


def test_a_wrong_length_path_secret_is_refused() -> None:
    sim, created, tree = _setup()
    path = created.update_path
    top = path.nodes[-1]
    # Re-encrypt a 16-byte "secret" to every recipient of the root's secret.
    res = tree.resolution(tree.filtered_direct_path_with_copath(1)[-1][1])
    cts = []
    for n in res:
        node = tree.node(n)
        assert node is not None
        kem, ct = encrypt_with_label(
            SUITE,
            node.encryption_key,
            UPDATE_PATH_NODE_LABEL,
            created.group_context.to_bytes(),
            bytes(16),
            SeededRandom(n),
        )
        cts.append(HPKECiphertext(kem, ct))
    bad = replace(path, nodes=(*path.nodes[:-1], replace(top, encrypted_path_secret=tuple(cts))))
    assert _rule(sim, tree, bad) == "V-TKEM-003"


def test_misuse() -> None:
    sim, created, tree = _setup()
    with pytest.raises(UsageError):  # the committer does not process its own path
        apply_update_path(
            tree,
            1,
            created.update_path,
            sim.keys[1],
            group_id=GROUP_ID,
            group_context_for=sim.context_for,
        )
    with pytest.raises(UsageError):  # wrong signature key for the leaf
        prepare_update_path(
            tree,
            1,
            group_id=GROUP_ID,
            signature_private=sim.members[2].signature_private,
            rng=SeededRandom(0),
        )
    blank = tree.copy()
    blank.remove_leaf(2)
    with pytest.raises(UsageError):  # a blank sender leaf needs a template
        prepare_update_path(
            blank,
            2,
            group_id=GROUP_ID,
            signature_private=sim.members[2].signature_private,
            rng=SeededRandom(0),
        )
    with pytest.raises(UsageError):
        created.path_secret_for(1)


# --------------------------------------------------------------------------- private keys


def test_private_keys_must_match_the_tree() -> None:
    sim, _, tree = _setup()
    keys = sim.keys[0]
    keys.check_against(tree)
    wrong = keys.replace(add={NodeIndex(1): sim.members[3].encryption_private})
    with pytest.raises(ValidationError) as e:
        wrong.check_against(tree)
    assert e.value.rule == "V-TKEM-010"
    off_path = keys.replace(add={NodeIndex(11): bytes(32)})
    with pytest.raises(ValidationError) as e:
        off_path.check_against(tree)
    assert e.value.rule == "V-TKEM-010"
    assert wrong.pruned(tree) == keys.replace(remove=[1])


def test_pruned_drops_keys_of_blanked_nodes() -> None:
    sim, _, tree = _setup()
    keys = sim.keys[0]
    assert set(keys.keys) == {0, 1, 3, 7}
    after = tree.copy()
    after.remove_leaf(3)  # blanks 5, 3 and 7
    assert set(keys.pruned(after).keys) == {0, 1}


def test_joiner_keys() -> None:
    sim = _grown(4)
    joiner = make_member("j")
    tree, added = sim.proposals([joiner], [], [])
    created = create_update_path(
        tree,
        0,
        group_id=GROUP_ID,
        signature_private=sim.members[0].signature_private,
        group_context_for=sim.context_for,
        rng=SeededRandom("j"),
        excluded=set(added),
    )
    (leaf,) = added
    assert leaf == 4
    secret = created.path_secret_for(leaf)
    assert secret == created.path_secrets[NodeIndex(7)]  # LCA of leaves 0 and 4
    keys = joiner_private_keys(created.tree, leaf, joiner.encryption_private, 0, secret)
    assert set(keys.keys) == {8, 7}
    keys.check_against(created.tree)
    only_leaf = joiner_private_keys(created.tree, leaf, joiner.encryption_private, 0, None)
    assert set(only_leaf.keys) == {8}
    with pytest.raises(ValidationError) as e:
        joiner_private_keys(created.tree, leaf, joiner.encryption_private, 0, bytes(32))
    assert e.value.rule == "V-TKEM-003"
    with pytest.raises(ValidationError) as e:  # not our leaf key
        joiner_private_keys(created.tree, leaf, sim.members[1].encryption_private, 0, secret)
    assert e.value.rule == "V-TKEM-010"
    # A path secret for a node the commit left blank (a wrong committer claimed).
    odd = created.tree.copy()
    odd.blank_path(2)
    with pytest.raises(ValidationError) as e:
        joiner_private_keys(odd, leaf, joiner.encryption_private, 2, secret)
    assert e.value.rule == "V-TKEM-003"
    # The same, through the lower-level method the Group may use.
    via = TreePrivateKeys.for_leaf(leaf, joiner.encryption_private).with_path_secret(
        SUITE, created.tree, 7, secret
    )
    assert via == keys


def test_private_keys_encoding_and_redaction() -> None:
    sim = _grown(4)
    keys = sim.keys[2]
    data = keys.to_bytes()
    assert TreePrivateKeys.from_bytes(data) == keys
    assert copy.deepcopy(keys) == keys  # a snapshot may deep-copy the state
    text = repr(keys)
    assert "leaf_index=2" in text
    for private in keys.keys.values():
        assert private.hex() not in text and repr(private) not in text
    assert TreePrivateKeys.empty().keys == {}
    # The same node twice.
    twice = bytes.fromhex("00000001") + b"\x0e" + (bytes.fromhex("00000002") + b"\x02ab") * 2
    with pytest.raises(DecodeError):
        TreePrivateKeys.from_bytes(twice)


def test_results_do_not_show_secrets() -> None:
    sim, created, tree = _setup()
    applied = _apply(sim, tree, created.update_path)
    for obj in (created, created.prepared, applied):
        text = repr(obj)
        assert created.commit_secret.hex() not in text
        assert repr(created.commit_secret) not in text
        for s in created.path_secrets.values():
            assert repr(s) not in text
    assert created.keys is created.private_keys and applied.keys is applied.private_keys
