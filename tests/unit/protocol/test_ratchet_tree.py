"""RatchetTree: shape (extension, truncation), Add/Update/Remove, resolution and
filtered direct paths (RFC 9420 §4.1.2 examples), validation rules V-TREE-001..011,
and the per-node cache against from-scratch computation (hypothesis)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cove.protocol.crypto import SeededRandom, Suite, sign_with_label, suite_for
from cove.protocol.errors import UsageError, ValidationError
from cove.protocol.mls.credentials import Credential
from cove.protocol.mls.extensions import Extension
from cove.protocol.mls.leaf_node import Capabilities, LeafNode, LeafNodeSource, Lifetime
from cove.protocol.mls.nodes import Node, ParentNode
from cove.protocol.mls.ratchet_tree import LEAF_NODE_TBS_LABEL, RatchetTree
from cove.protocol.mls.treekem import prepare_update_path

SUITE = suite_for(1)
GROUP_ID = b"cove test group"


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Member:
    """A test member: its KeyPackage leaf and private keys."""

    leaf_node: LeafNode
    signature_private: bytes
    encryption_private: bytes


def sign_leaf(
    suite: Suite, leaf: LeafNode, signature_private: bytes, leaf_index: int | None = None
) -> LeafNode:
    if leaf.leaf_node_source == LeafNodeSource.KEY_PACKAGE:
        tbs = leaf.tbs()
    else:
        assert leaf_index is not None
        tbs = leaf.tbs(GROUP_ID, leaf_index)
    return replace(
        leaf, signature=sign_with_label(suite, signature_private, LEAF_NODE_TBS_LABEL, tbs)
    )


def make_member(name: str, suite: Suite = SUITE) -> Member:
    rng = SeededRandom(f"member {name}")
    sig_priv, sig_pub = suite.generate_signature_key_pair(rng)
    enc_priv, enc_pub = suite.generate_kem_key_pair(rng)
    leaf = LeafNode(
        encryption_key=enc_pub,
        signature_key=sig_pub,
        credential=Credential.basic(name.encode()),
        capabilities=Capabilities(cipher_suites=(suite.suite_id,), credentials=(1,)),
        leaf_node_source=LeafNodeSource.KEY_PACKAGE,
        lifetime=Lifetime(0, 2**64 - 1),
    )
    return Member(sign_leaf(suite, leaf, sig_priv), sig_priv, enc_priv)


def get_tree(n: int) -> tuple[RatchetTree, list[Member]]:
    """The upstream ``get_tree(n)``: leaf i commits adding member i + 1, for i < n - 1.

    Public side only (no encryption), so every parent on the path is populated.
    """
    members = [make_member(f"m{i}") for i in range(n)]
    tree = RatchetTree.create(SUITE, members[0].leaf_node)
    for i in range(n - 1):
        tree.add_leaf(members[i + 1].leaf_node)
        tree = prepare_update_path(
            tree,
            i,
            group_id=GROUP_ID,
            signature_private=members[i].signature_private,
            rng=SeededRandom(f"commit {i}"),
        ).tree
    return tree, members


def fake_leaf(tag: int) -> LeafNode:
    """An unsigned leaf with unique keys: enough for shape and hash tests."""
    key = tag.to_bytes(4, "big") * 8
    return LeafNode(
        encryption_key=b"E" + key,
        signature_key=b"S" + key,
        credential=Credential.basic(b"x"),
        capabilities=Capabilities(credentials=(1,)),
        leaf_node_source=LeafNodeSource.UPDATE,
    )


def fake_parent(tag: int, unmerged: tuple[int, ...] = ()) -> ParentNode:
    return ParentNode(b"P" + tag.to_bytes(4, "big") * 8, b"", unmerged)


# --------------------------------------------------------------------------- shape


def test_one_member_tree() -> None:
    m = make_member("a")
    tree = RatchetTree.create(SUITE, m.leaf_node)
    assert (tree.n_leaves, tree.n_nodes, tree.root) == (1, 1, 0)
    assert tree.member_count() == 1
    assert list(tree.leaves()) == [(0, m.leaf_node)]
    assert tree.filtered_direct_path(0) == []
    assert tree.to_nodes() == (Node(m.leaf_node),)
    tree.validate(GROUP_ID)


def test_add_extends_by_doubling_and_remove_truncates_by_halving() -> None:
    tree = RatchetTree.create(SUITE, fake_leaf(0))
    sizes = []
    for t in range(1, 5):
        assert tree.free_leaf() == t
        assert tree.add_leaf(fake_leaf(t)) == t
        sizes.append(tree.n_leaves)
    assert sizes == [2, 4, 4, 8]
    assert tree.free_leaf() == 5  # no mutation
    assert tree.n_leaves == 8
    # Remove leaf 1: a hole in the middle, no truncation; the next add fills it.
    tree.remove_leaf(1)
    assert tree.n_leaves == 8
    assert tree.free_leaf() == 1
    assert tree.add_leaf(fake_leaf(9)) == 1
    # Removing the last leaf halves once (right half blank), then stops.
    tree.remove_leaf(4)
    assert tree.n_leaves == 4
    tree.remove_leaf(3)
    tree.remove_leaf(2)
    assert tree.n_leaves == 2
    tree.remove_leaf(1)
    assert tree.n_leaves == 1
    assert tree.to_nodes() == (Node(fake_leaf(0)),)


def test_truncation_drops_a_non_blank_root_with_a_blank_right_half() -> None:
    # §7.8: "The root of the tree and the right subtree are discarded (whether or
    # not the root node is blank)". Remove leaf 2 of a 3-member tree whose root is
    # set: the remove blanks the root anyway, the tree halves to 2 leaves.
    tree, _ = get_tree(3)
    assert tree.n_leaves == 4
    tree.remove_leaf(2)
    assert tree.n_leaves == 2
    assert tree.to_nodes()[-1] is not None


def test_truncation_leaves_two_to_the_d_greater_than_the_last_leaf() -> None:
    tree = RatchetTree.create(SUITE, fake_leaf(0))
    for t in range(1, 9):
        tree.add_leaf(fake_leaf(t))
    assert tree.n_leaves == 16
    for i in (8, 7, 6, 5):
        tree.remove_leaf(i)
    assert tree.n_leaves == 8  # last non-blank leaf 4: smallest 2^d > 4
    tree.remove_leaf(4)
    assert tree.n_leaves == 4


def test_add_puts_the_new_leaf_in_unmerged_leaves_of_non_blank_parents() -> None:
    tree, _ = get_tree(3)  # 4 leaves, parents 1 and 3 set, node 5 blank
    assert tree.parent_node(5) is None
    i = tree.add_leaf(make_member("new").leaf_node)
    assert i == 3
    root = tree.parent_node(3)
    assert root is not None and root.unmerged_leaves == (3,)
    assert tree.parent_node(5) is None
    assert tree.resolution(3) == [3, 6]
    tree.validate(GROUP_ID)


def test_update_replaces_the_leaf_and_blanks_its_direct_path() -> None:
    tree, members = get_tree(4)
    new_leaf = sign_leaf(
        SUITE,
        replace(members[2].leaf_node, leaf_node_source=LeafNodeSource.UPDATE, lifetime=None),
        members[2].signature_private,
        2,
    )
    tree.update_leaf(2, new_leaf)
    assert tree.leaf(2) == new_leaf
    assert tree.parent_node(5) is None and tree.parent_node(3) is None
    assert tree.parent_node(1) is not None
    tree.validate(GROUP_ID)


def test_copy_is_independent() -> None:
    tree, _ = get_tree(4)
    before_hash = tree.tree_hash()
    other = tree.copy()
    other.remove_leaf(3)
    assert tree.tree_hash() == before_hash
    assert other.tree_hash() != before_hash
    assert other != tree
    assert tree.copy() == tree


def test_from_nodes_structure_rules() -> None:
    leaf = Node(fake_leaf(1))
    parent = Node(fake_parent(1))
    for bad in ([], [leaf, parent], [leaf, None, None], [parent], [leaf, leaf, leaf]):
        with pytest.raises(ValidationError) as e:
            RatchetTree.from_nodes(SUITE, bad)
        assert e.value.rule == "V-TREE-001"
    tree = RatchetTree.from_nodes(SUITE, [leaf, None, Node(fake_leaf(2))])
    assert tree.n_leaves == 2
    tree = RatchetTree.from_nodes(SUITE, [leaf, None, Node(fake_leaf(2)), None, Node(fake_leaf(3))])
    assert tree.n_leaves == 4 and tree.n_nodes == 7
    assert RatchetTree.from_bytes(SUITE, tree.to_bytes()) == tree


def test_accessors_refuse_out_of_range_and_wrong_kinds() -> None:
    tree, _ = get_tree(2)
    with pytest.raises(UsageError):
        tree.leaf(2)
    with pytest.raises(UsageError):
        tree.node(3)
    with pytest.raises(UsageError):
        tree.parent_node(0)
    with pytest.raises(UsageError):
        tree.set_parent(2, None)
    with pytest.raises(ValidationError) as e:
        tree.remove_leaf(5)
    assert e.value.rule == "V-TREE-011"
    tree.remove_leaf(1)
    with pytest.raises(ValidationError) as e:
        tree.update_leaf(1, fake_leaf(9))
    assert e.value.rule == "V-TREE-011"


def test_repr_has_no_keys() -> None:
    tree, _ = get_tree(3)
    assert repr(tree) == "RatchetTree(suite=1, n_leaves=4, members=3)"


# --------------------------------------------------------------------------- §4.1.2 examples


def test_resolution_example_of_section_4_1_2() -> None:
    # Leaves A B _ D E F _ H; X = node 3 with unmerged B; Y = node 9; all else blank.
    tree = RatchetTree(SUITE, 8)
    for i in (0, 1, 3, 4, 5, 7):
        tree.set_leaf(i, fake_leaf(i))
    tree.set_parent(3, fake_parent(3, (1,)))
    tree.set_parent(9, fake_parent(9))
    assert tree.resolution(3) == [3, 2]  # [X, B]
    assert tree.resolution(4) == [] and tree.resolution(12) == []
    assert tree.resolution(7) == [3, 2, 9, 14]  # [X, B, Y, H]


def test_filtered_direct_path_example_of_section_4_1_2() -> None:
    # Leaves A B _ _ E F G _; T = 1, X = 9, Y = 11, W = 7 set; U, V, Z blank.
    tree = RatchetTree(SUITE, 8)
    for i in (0, 1, 4, 5, 6):
        tree.set_leaf(i, fake_leaf(i))
    for n in (1, 9, 11, 7):
        tree.set_parent(n, fake_parent(n))
    assert tree.direct_path(0) == [1, 3, 7]
    assert tree.filtered_direct_path(0) == [1, 7]  # A: T, W
    assert tree.filtered_direct_path(1) == [1, 7]  # B: T, W
    assert tree.filtered_direct_path(4) == [9, 11, 7]  # E: X, Y, W
    assert tree.filtered_direct_path(5) == [9, 11, 7]  # F: X, Y, W
    assert tree.filtered_direct_path(6) == [11, 7]  # G: Y, W
    assert tree.filtered_direct_path_with_copath(6) == [(11, 9), (7, 3)]


# --------------------------------------------------------------------------- validation


def _rule(tree: RatchetTree, group_id: bytes = GROUP_ID) -> str:
    with pytest.raises(ValidationError) as e:
        tree.validate(group_id)
    return e.value.rule


@pytest.mark.parametrize("n", [2, 3, 5, 8])
def test_get_tree_validates(n: int) -> None:
    tree, _ = get_tree(n)
    tree.validate(GROUP_ID)
    tree.verify_tree_hash(tree.tree_hash())
    with pytest.raises(ValidationError) as e:
        tree.verify_tree_hash(bytes(32))
    assert e.value.rule == "V-TREE-010"


def test_tampered_parent_hash_field() -> None:
    tree, _ = get_tree(4)
    p = tree.parent_node(1)
    assert p is not None
    tree.set_parent(1, replace(p, parent_hash=bytes(32)))
    assert _rule(tree) == "V-TREE-002"


def test_tampered_parent_encryption_key() -> None:
    tree, _ = get_tree(4)
    p = tree.parent_node(5)
    assert p is not None
    tree.set_parent(5, replace(p, encryption_key=SUITE.generate_kem_key_pair(SeededRandom(1))[1]))
    assert _rule(tree) == "V-TREE-002"


def test_parent_over_a_key_package_leaf_is_not_parent_hash_valid() -> None:
    tree = RatchetTree.create(SUITE, make_member("a").leaf_node)
    tree.add_leaf(make_member("b").leaf_node)
    tree.set_parent(1, ParentNode(SUITE.generate_kem_key_pair(SeededRandom(2))[1]))
    assert _rule(tree) == "V-TREE-002"


def test_parent_hash_chain_skipping_a_blank_node_and_unmerged_leaves() -> None:
    tree, members = get_tree(8)
    # Blank the middle of a path (Remove), re-commit from 0: the chain skips blanks.
    tree.remove_leaf(2)
    tree.remove_leaf(3)
    tree.add_leaf(make_member("late").leaf_node)  # unmerged at non-blank parents
    tree.validate(GROUP_ID)
    tree = prepare_update_path(
        tree,
        0,
        group_id=GROUP_ID,
        signature_private=members[0].signature_private,
        rng=SeededRandom("x"),
    ).tree
    tree.validate(GROUP_ID)
    tree.add_leaf(make_member("later").leaf_node)
    tree.validate(GROUP_ID)


def test_bad_leaf_signature() -> None:
    tree, _ = get_tree(3)
    leaf = tree.leaf(1)
    assert leaf is not None
    tree.set_leaf(1, replace(leaf, signature=bytes(64)))
    assert _rule(tree) == "V-TREE-003"


def test_commit_leaf_signature_binds_the_group_id() -> None:
    tree, _ = get_tree(3)
    assert _rule(tree, b"another group") == "V-TREE-003"


def test_duplicate_encryption_key() -> None:
    tree, _ = get_tree(4)
    p = tree.parent_node(1)
    leaf = tree.leaf(3)
    assert p is not None and leaf is not None
    tree.set_leaf(3, replace(leaf, encryption_key=p.encryption_key))
    assert _rule(tree) == "V-TREE-006"


def test_duplicate_signature_key() -> None:
    tree, _ = get_tree(3)
    a, b = tree.leaf(0), tree.leaf(2)
    assert a is not None and b is not None
    tree.set_leaf(2, replace(b, signature_key=a.signature_key))
    assert _rule(tree) == "V-TREE-007"


def test_unmerged_leaf_rules() -> None:
    tree, _ = get_tree(5)
    assert tree.add_leaf(make_member("new").leaf_node) == 5  # unmerged at root 7
    tree.validate(GROUP_ID)
    root = tree.parent_node(7)
    assert root is not None and root.unmerged_leaves == (5,)

    blank = tree.copy()  # an unmerged leaf that is blank
    blank.set_parent(7, replace(root, unmerged_leaves=(5, 6)))
    assert _rule(blank) == "V-TREE-004"

    not_below = tree.copy()  # an unmerged leaf outside the parent's subtree
    p5 = not_below.parent_node(5)
    assert p5 is not None
    not_below.set_parent(5, replace(p5, unmerged_leaves=(0,)))
    assert _rule(not_below) == "V-TREE-004"

    # Leaf 5 unmerged at the root but not at a non-blank node (11) between them.
    missing = tree.copy()
    missing.set_parent(11, fake_parent(11))
    assert _rule(missing) == "V-TREE-005"


def test_leaf_content_rules() -> None:
    tree, members = get_tree(2)
    leaf = tree.leaf(1)
    assert leaf is not None
    no_cred = replace(leaf, capabilities=replace(leaf.capabilities, credentials=(2,)))
    tree.set_leaf(1, sign_leaf(SUITE, no_cred, members[1].signature_private, 1))
    assert _rule(tree) == "V-TREE-008"
    unlisted = replace(leaf, extensions=(Extension(0xF0A0, b"x"),))
    tree.set_leaf(1, sign_leaf(SUITE, unlisted, members[1].signature_private, 1))
    assert _rule(tree) == "V-TREE-009"
    listed = replace(unlisted, capabilities=replace(leaf.capabilities, extensions=(0xF0A0,)))
    default = replace(leaf, extensions=(Extension(0x0001, b"app"),))  # default type
    for ok in (listed, default):
        tree.set_leaf(1, sign_leaf(SUITE, ok, members[1].signature_private, 1))
        # The changed leaf breaks the parent hash chain, which is checked last.
        assert _rule(tree) == "V-TREE-002"


# --------------------------------------------------------------------------- caches


_OPS = st.lists(
    st.tuples(st.sampled_from(["add", "update", "remove", "path", "parent"]), st.integers(0, 63)),
    min_size=1,
    max_size=80,
)


def _assert_matches_scratch(tree: RatchetTree) -> None:
    scratch = RatchetTree(SUITE, tree.n_leaves)  # no cached state at all
    for n in range(tree.n_nodes):
        value = tree.node(n)
        if isinstance(value, LeafNode):
            scratch.set_leaf(n // 2, value)
        elif isinstance(value, ParentNode):
            scratch.set_parent(n, value)
    assert scratch == tree
    assert scratch.tree_hash() == tree.tree_hash()
    for n in range(tree.n_nodes):
        assert scratch.node_tree_hash(n) == tree.node_tree_hash(n)
        assert scratch.resolution(n) == tree.resolution(n)
    nodes = tree.to_nodes()
    if len(nodes) % 2 == 1:  # (the "parent" op may leave a parent last)
        assert RatchetTree.from_nodes(SUITE, nodes).n_leaves == tree.n_leaves  # minimal


@settings(max_examples=60, deadline=None)
@given(_OPS)
def test_cached_hashes_and_resolutions_match_a_fresh_tree(ops: list[tuple[str, int]]) -> None:
    tree = RatchetTree.create(SUITE, fake_leaf(0))
    tree.tree_hash()
    tag = 1
    for op, x in ops:
        members = [i for i, _ in tree.leaves()]
        i = members[x % len(members)]
        tag += 1
        if op == "add":
            tree.add_leaf(fake_leaf(tag))
        elif op == "update":
            tree.update_leaf(i, fake_leaf(tag))
        elif op == "remove" and len(members) > 1:
            tree.remove_leaf(i)
        elif op == "path":  # what a commit does to the committer's path
            tree.blank_path(i)
            for p in tree.filtered_direct_path(i):
                tree.set_parent(p, fake_parent(tag * 64 + p))
            tree.set_leaf(i, fake_leaf(tag))
        elif op == "parent":  # a node with unmerged leaves
            path = tree.direct_path(2 * i)
            if path:
                p = path[x % len(path)]
                tree.set_parent(p, fake_parent(tag, (i,)))
        # Interleave reads so that some cache entries are warm when mutated.
        if x % 3 == 0:
            tree.tree_hash()
        if x % 5 == 0:
            tree.resolution(tree.root)
        _assert_matches_scratch(tree)
    _assert_matches_scratch(tree.copy())
