"""TreeKEM: creating, merging and decrypting UpdatePaths (RFC 9420 §7.4-§7.6, §7.9).

Path secrets (§7.4)::

    path_secret[0]   = random(Nh)
    path_secret[n]   = DeriveSecret(path_secret[n-1], "path")
    node_secret[n]   = DeriveSecret(path_secret[n], "node")
    node_priv[n], node_pub[n] = KEM.DeriveKeyPair(node_secret[n])
    commit_secret    = DeriveSecret(path_secret[last], "path")

``path_secret[i]`` belongs to the i-th node of the committer's *filtered*
direct path (bottom-up). Each is encrypted (EncryptWithLabel, label
``"UpdatePathNode"``, context = the encoded provisional GroupContext) to every
node in the resolution of the matching copath child, minus the leaves added
in the same commit (§7.6, §12.4.2).

The provisional GroupContext carries the tree hash of the tree *after* the
merge, so the caller supplies it through a callback ``group_context_for(tree_hash)``
(or, for creation, in two steps with :func:`prepare_update_path` and
:func:`encrypt_update_path`).

Validation rule ids raised here (``docs/protocol/ratchet-tree.md``):

* ``V-TKEM-001`` the UpdatePath has not one node per filtered-direct-path node;
* ``V-TKEM-002`` an UpdatePathNode has not one ciphertext per resolution node
  (new members excluded);
* ``V-TKEM-003`` a path secret derives a public key different from the one in
  the UpdatePath (or, for a joiner, in the tree);
* ``V-TKEM-004`` the UpdatePath leaf's ``leaf_node_source`` is not ``commit``;
* ``V-TKEM-005`` the UpdatePath leaf's signature does not verify;
* ``V-TKEM-006`` the new leaf keeps the committer's old encryption key;
* ``V-TKEM-007`` a public key of the UpdatePath already appears in the tree
  (or twice in the path);
* ``V-TKEM-008`` the leaf's ``parent_hash`` is not the parent hash of its path;
* ``V-TKEM-009`` the new leaf's signature key belongs to another member;
* ``V-TKEM-010`` private keys that do not match the public tree.

Content checks of the new leaf shared with tree validation raise
``V-TREE-008``/``V-TREE-009``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Final

from ..crypto import RandomProvider
from ..crypto.labels import (
    decrypt_with_label,
    encrypt_with_label,
    sign_with_label,
)
from ..errors import StateError, UsageError, ValidationError
from .commit import HPKECiphertext, UpdatePath, UpdatePathNode
from .group_context import GroupContext
from .leaf_node import LeafNode, LeafNodeSource
from .nodes import ParentNode
from .ratchet_tree import (
    LEAF_NODE_TBS_LABEL,
    RatchetTree,
    check_leaf_node_contents,
    verify_leaf_node_signature,
)
from .tree_keys import TreePrivateKeys, derive_node_key_pair, next_path_secret
from .tree_math import LeafIndex, NodeIndex, common_ancestor, is_in_subtree

__all__ = [
    "UPDATE_PATH_NODE_LABEL",
    "AppliedUpdatePath",
    "CreatedUpdatePath",
    "PreparedUpdatePath",
    "TreePrivateKeys",
    "apply_update_path",
    "create_update_path",
    "derive_node_key_pair",
    "encrypt_update_path",
    "joiner_private_keys",
    "merge_update_path",
    "next_path_secret",
    "prepare_update_path",
]

#: EncryptWithLabel label of path secrets (§7.6).
UPDATE_PATH_NODE_LABEL: Final = b"UpdatePathNode"


# ============================================================================ creation


def _copy_for_sender(tree: RatchetTree, sender: int) -> RatchetTree:
    """A copy of ``tree`` with room for ``sender``: an external committer of a
    tree without blank leaves sits one past the last leaf (§12.4.3.2)."""
    new = tree.copy()
    if sender == tree.n_leaves and tree.free_leaf() == sender:
        new.extend()
    elif not 0 <= sender < tree.n_leaves:
        raise UsageError(f"sender {sender} is outside the tree")
    return new


@dataclass(frozen=True, slots=True, repr=False)
class PreparedUpdatePath:
    """The committer's side of an UpdatePath before encryption (§7.4, §7.5).

    ``tree`` is the new tree: the sender's direct path blanked, its filtered
    direct path set to the new keys with no unmerged leaves and chained parent
    hashes, and its new signed ``commit`` leaf. ``path_secrets`` maps each node
    of the filtered direct path to its path secret; ``commit_secret`` follows the
    last one. ``private_keys`` is the committer's new key set.
    """

    tree: RatchetTree
    sender: LeafIndex
    leaf_node: LeafNode
    path: tuple[tuple[NodeIndex, NodeIndex], ...]
    path_secrets: Mapping[NodeIndex, bytes]
    commit_secret: bytes
    private_keys: TreePrivateKeys

    def __repr__(self) -> str:
        return f"PreparedUpdatePath(sender={self.sender}, path={[p for p, _ in self.path]})"

    @property
    def tree_hash(self) -> bytes:
        """The tree hash of the new tree (for the provisional GroupContext)."""
        return self.tree.tree_hash()

    def path_secret_for(self, joiner: int) -> bytes:
        """The path secret a new member at leaf ``joiner`` gets in its GroupSecrets:
        that of the lowest common ancestor of committer and joiner (§12.4.3.1)."""
        lca = common_ancestor(NodeIndex(2 * self.sender), NodeIndex(2 * joiner))
        secret = self.path_secrets.get(lca)
        if secret is None:
            raise UsageError(f"node {lca} is not on the committer's filtered direct path")
        return secret


def prepare_update_path(
    tree: RatchetTree,
    sender: int,
    *,
    group_id: bytes,
    signature_private: bytes,
    rng: RandomProvider,
    leaf_template: LeafNode | None = None,
) -> PreparedUpdatePath:
    """Step 1 of an UpdatePath: new keys along the sender's filtered direct path.

    ``tree`` is the tree after the commit's proposals (it is not modified). An
    external committer (§12.4.3.2) passes the leaf it is assigned: the leftmost
    blank leaf, or ``tree.n_leaves`` when none is blank (the new tree is then
    extended). ``leaf_template`` supplies the new leaf's signature key, credential,
    capabilities and extensions (default: the sender's current leaf; required
    when the sender's leaf is blank, as in an external commit). The new leaf
    gets a fresh HPKE key pair, ``leaf_node_source = commit``, the computed
    parent hash, and a signature with ``signature_private`` over its
    LeafNodeTBS (``group_id``, ``sender``).

    Randomness: ``Nsk`` bytes for the leaf key pair, then ``Nh`` bytes for
    ``path_secret[0]`` (drawn even when the filtered direct path is empty, in
    which case the commit secret is ``DeriveSecret(path_secret[0], "path")``).
    """
    suite = tree.suite
    new = _copy_for_sender(tree, sender)
    template = leaf_template if leaf_template is not None else new.leaf(sender)
    if template is None:
        raise UsageError("a blank sender leaf needs a leaf_template")
    if suite.signature_public_key(signature_private) != template.signature_key:
        raise UsageError("signature_private does not match the leaf's signature key")

    leaf_private, leaf_public = suite.generate_kem_key_pair(rng)
    new.blank_path(sender)
    path = tuple(new.filtered_direct_path_with_copath(sender))

    secret = rng.random_bytes(suite.hash_length)
    path_secrets: dict[NodeIndex, bytes] = {}
    node_keys: dict[NodeIndex, bytes] = {NodeIndex(2 * sender): leaf_private}
    for p, _ in path:
        path_secrets[p] = secret
        priv, pub = derive_node_key_pair(suite, secret)
        node_keys[p] = priv
        new.set_parent(p, ParentNode(pub))
        secret = next_path_secret(suite, secret)
    commit_secret = secret

    parent_hash = new.set_path_parent_hashes(sender)
    unsigned = LeafNode(
        encryption_key=leaf_public,
        signature_key=template.signature_key,
        credential=template.credential,
        capabilities=template.capabilities,
        leaf_node_source=LeafNodeSource.COMMIT,
        parent_hash=parent_hash,
        extensions=template.extensions,
    )
    signature = sign_with_label(
        suite, signature_private, LEAF_NODE_TBS_LABEL, unsigned.tbs(group_id, sender)
    )
    leaf = LeafNode(
        encryption_key=unsigned.encryption_key,
        signature_key=unsigned.signature_key,
        credential=unsigned.credential,
        capabilities=unsigned.capabilities,
        leaf_node_source=unsigned.leaf_node_source,
        parent_hash=unsigned.parent_hash,
        extensions=unsigned.extensions,
        signature=signature,
    )
    new.set_leaf(sender, leaf)

    keys = TreePrivateKeys(LeafIndex(sender), node_keys)
    return PreparedUpdatePath(
        tree=new,
        sender=LeafIndex(sender),
        leaf_node=leaf,
        path=path,
        path_secrets=path_secrets,
        commit_secret=commit_secret,
        private_keys=keys,
    )


def _resolution_minus(tree: RatchetTree, node: int, excluded: AbstractSet[int]) -> list[NodeIndex]:
    res = tree.resolution(node)
    if not excluded:
        return res
    return [n for n in res if not (n % 2 == 0 and (n >> 1) in excluded)]


def encrypt_update_path(
    prepared: PreparedUpdatePath,
    group_context: GroupContext,
    rng: RandomProvider,
    excluded: AbstractSet[int] = frozenset(),
) -> UpdatePath:
    """Step 2: encrypt each path secret to the copath resolution (§7.6).

    ``group_context`` is the provisional GroupContext; its ``tree_hash`` must be
    ``prepared.tree_hash``. ``excluded`` are the leaves added by the same commit.
    """
    tree = prepared.tree
    if group_context.tree_hash != tree.tree_hash():
        raise UsageError("the provisional GroupContext must carry the new tree hash")
    suite = tree.suite
    context = group_context.to_bytes()
    nodes: list[UpdatePathNode] = []
    for p, s in prepared.path:
        secret = prepared.path_secrets[p]
        cts: list[HPKECiphertext] = []
        for r in _resolution_minus(tree, s, excluded):
            target = tree.node(r)
            assert target is not None
            kem_output, ct = encrypt_with_label(
                suite, target.encryption_key, UPDATE_PATH_NODE_LABEL, context, secret, rng
            )
            cts.append(HPKECiphertext(kem_output, ct))
        value = tree.parent_node(p)
        assert value is not None
        nodes.append(UpdatePathNode(value.encryption_key, tuple(cts)))
    return UpdatePath(prepared.leaf_node, tuple(nodes))


@dataclass(frozen=True, slots=True, repr=False)
class CreatedUpdatePath:
    """Everything the committer gets from :func:`create_update_path`.

    ``tree`` is the new tree, ``update_path`` goes into the Commit,
    ``commit_secret`` into the key schedule, ``path_secrets`` (per node of the
    filtered direct path) feed the joiners' GroupSecrets via
    :meth:`path_secret_for`, ``private_keys`` replace the committer's keys and
    ``group_context`` is the provisional GroupContext that was used.
    """

    tree: RatchetTree
    update_path: UpdatePath
    commit_secret: bytes
    path_secrets: Mapping[NodeIndex, bytes]
    private_keys: TreePrivateKeys
    group_context: GroupContext
    prepared: PreparedUpdatePath

    def __repr__(self) -> str:
        return f"CreatedUpdatePath(sender={self.prepared.sender}, nodes={len(self.path_secrets)})"

    @property
    def keys(self) -> TreePrivateKeys:
        """Alias of :attr:`private_keys`."""
        return self.private_keys

    def path_secret_for(self, joiner: int) -> bytes:
        """See :meth:`PreparedUpdatePath.path_secret_for`."""
        return self.prepared.path_secret_for(joiner)


def create_update_path(
    tree: RatchetTree,
    sender: int,
    *,
    group_id: bytes,
    signature_private: bytes,
    group_context_for: Callable[[bytes], GroupContext],
    rng: RandomProvider,
    leaf_template: LeafNode | None = None,
    excluded: AbstractSet[int] = frozenset(),
) -> CreatedUpdatePath:
    """Create an UpdatePath from ``sender`` (§7.4-§7.6, §12.4.2) in one call.

    :func:`prepare_update_path`, then ``group_context_for(new_tree_hash)`` for
    the provisional GroupContext, then :func:`encrypt_update_path`. ``excluded``
    are the leaves added in the same commit (they get their path secret in
    the Welcome instead).
    """
    prepared = prepare_update_path(
        tree,
        sender,
        group_id=group_id,
        signature_private=signature_private,
        rng=rng,
        leaf_template=leaf_template,
    )
    group_context = group_context_for(prepared.tree_hash)
    update_path = encrypt_update_path(prepared, group_context, rng, excluded)
    return CreatedUpdatePath(
        tree=prepared.tree,
        update_path=update_path,
        commit_secret=prepared.commit_secret,
        path_secrets=prepared.path_secrets,
        private_keys=prepared.private_keys,
        group_context=group_context,
        prepared=prepared,
    )


# ============================================================================ processing


def merge_update_path(
    tree: RatchetTree, sender: int, update_path: UpdatePath, group_id: bytes
) -> RatchetTree:
    """Check an UpdatePath against ``tree`` and return the merged tree (§7.5, §7.9.2, §12.4.2).

    ``tree`` is the tree after the commit's proposals (not modified). For an
    external commit ``sender`` is the leaf assigned to the joiner: blank (or a
    placeholder), or ``tree.n_leaves`` when no leaf is blank (the merged tree is
    then extended). Checks:
    one UpdatePathNode per filtered-direct-path node (``V-TKEM-001``), the
    leaf's source (``V-TKEM-004``), contents (``V-TREE-008``/``009``) and
    signature (``V-TKEM-005``), a new encryption key (``V-TKEM-006``), no path
    key already in the tree (``V-TKEM-007``), a signature key not used by
    another member (``V-TKEM-009``), and the leaf's parent hash (``V-TKEM-008``).
    Ciphertext counts need the excluded leaves and are checked by
    :func:`apply_update_path`.
    """
    suite = tree.suite
    new = _copy_for_sender(tree, sender)
    path = new.filtered_direct_path_with_copath(sender)
    if len(update_path.nodes) != len(path):
        raise ValidationError(
            "V-TKEM-001",
            f"UpdatePath has {len(update_path.nodes)} nodes, the filtered direct path {len(path)}",
        )
    leaf = update_path.leaf_node
    if leaf.leaf_node_source != LeafNodeSource.COMMIT:
        raise ValidationError("V-TKEM-004", "UpdatePath leaf source is not commit")
    check_leaf_node_contents(leaf)
    try:
        verify_leaf_node_signature(suite, leaf, group_id, sender)
    except ValidationError:
        raise ValidationError("V-TKEM-005", "UpdatePath leaf signature does not verify") from None
    old_leaf = new.leaf(sender)
    if old_leaf is not None and old_leaf.encryption_key == leaf.encryption_key:
        raise ValidationError("V-TKEM-006", "the committer's leaf keeps its encryption key")

    new_keys = [leaf.encryption_key, *(n.encryption_key for n in update_path.nodes)]
    if len(set(new_keys)) != len(new_keys):
        raise ValidationError("V-TKEM-007", "a public key appears twice in the UpdatePath")
    reused = tree.nodes_with_encryption_keys(new_keys)
    if reused:
        raise ValidationError("V-TKEM-007", f"UpdatePath key already used at node {reused[0]}")
    if any(i != sender for i in tree.leaves_with_signature_key(leaf.signature_key)):
        raise ValidationError("V-TKEM-009", "signature key of another member")

    new.blank_path(sender)
    for (p, _), upn in zip(path, update_path.nodes, strict=True):
        new.set_parent(p, ParentNode(upn.encryption_key))
    parent_hash = new.set_path_parent_hashes(sender)
    if leaf.parent_hash != parent_hash:
        raise ValidationError("V-TKEM-008", "UpdatePath leaf parent hash does not match")
    new.set_leaf(sender, leaf)
    return new


@dataclass(frozen=True, slots=True, repr=False)
class AppliedUpdatePath:
    """A member's result of processing another member's UpdatePath.

    ``path_secret`` is the one decrypted (at the lowest common ancestor of the
    sender and this member); ``group_context`` is the provisional one used.
    """

    tree: RatchetTree
    commit_secret: bytes
    private_keys: TreePrivateKeys
    path_secret: bytes
    group_context: GroupContext

    def __repr__(self) -> str:
        return f"AppliedUpdatePath(leaf={self.private_keys.leaf_index})"

    @property
    def keys(self) -> TreePrivateKeys:
        """Alias of :attr:`private_keys`."""
        return self.private_keys


def apply_update_path(
    tree: RatchetTree,
    sender: int,
    update_path: UpdatePath,
    my_keys: TreePrivateKeys,
    *,
    group_id: bytes,
    group_context_for: Callable[[bytes], GroupContext],
    excluded: AbstractSet[int] = frozenset(),
) -> AppliedUpdatePath:
    """Process another member's UpdatePath (§7.5, §7.6, §12.4.2).

    ``tree`` is the tree after the commit's proposals; ``my_keys`` this member's
    keys in it (pruned of nodes the proposals blanked is best, but not needed).
    Merges and checks the path (:func:`merge_update_path`), checks the
    ciphertext counts (``V-TKEM-002``), builds the provisional GroupContext
    with ``group_context_for(new_tree_hash)``, decrypts the path secret of the
    lowest filtered-direct-path node above this member with a key it holds
    (``CryptoError`` if HPKE fails), derives the rest of the path and checks each
    public key (``V-TKEM-003``), and derives the commit secret.
    """
    suite = tree.suite
    me = my_keys.leaf_index
    if me == sender:
        raise UsageError("a committer keeps the result of create_update_path")
    if not 0 <= me < tree.n_leaves or tree.leaf(me) is None:
        raise StateError("this member is not in the tree")
    if me in excluded:
        raise UsageError("a member added by this commit joins through the Welcome")

    new = merge_update_path(tree, sender, update_path, group_id)
    path = new.filtered_direct_path_with_copath(sender)
    resolutions = [_resolution_minus(new, s, excluded) for _, s in path]
    for (p, _), res, upn in zip(path, resolutions, update_path.nodes, strict=True):
        if len(upn.encrypted_path_secret) != len(res):
            raise ValidationError(
                "V-TKEM-002",
                f"UpdatePathNode for node {p} has {len(upn.encrypted_path_secret)} "
                f"ciphertexts for {len(res)} recipients",
            )

    my_node = NodeIndex(2 * me)
    start = next((i for i, (_, s) in enumerate(path) if is_in_subtree(my_node, s)), None)
    if start is None:  # pragma: no cover - a member below no copath child is the sender
        raise StateError("this member is not below the sender's filtered direct path")

    group_context = group_context_for(new.tree_hash())
    if group_context.tree_hash != new.tree_hash():
        raise UsageError("the provisional GroupContext must carry the new tree hash")
    context = group_context.to_bytes()

    # Our keys on nodes the sender's path replaces or blanks are obsolete.
    sender_path = set(new.direct_path(2 * sender))
    old_keys = my_keys.replace(remove=sender_path)
    slot: int | None = None
    private: bytes | None = None
    for k, r in enumerate(resolutions[start]):
        candidate = old_keys.get(r)
        value = new.node(r)
        if (
            candidate is not None
            and value is not None
            and value.encryption_key == suite.kem_public_key(candidate)
        ):
            slot, private = k, candidate
            break
    if slot is None or private is None:
        raise StateError("no private key for the copath resolution of this member")
    ct = update_path.nodes[start].encrypted_path_secret[slot]
    secret = decrypt_with_label(
        suite, private, UPDATE_PATH_NODE_LABEL, context, ct.kem_output, ct.ciphertext
    )
    if len(secret) != suite.hash_length:
        raise ValidationError("V-TKEM-003", "a path secret has the wrong length")

    decrypted = secret
    derived: dict[NodeIndex, bytes] = {}
    for (p, _), upn in zip(path[start:], update_path.nodes[start:], strict=True):
        priv, pub = derive_node_key_pair(suite, secret)
        if pub != upn.encryption_key:
            raise ValidationError(
                "V-TKEM-003", f"the path secret for node {p} derives a different public key"
            )
        derived[p] = priv
        secret = next_path_secret(suite, secret)

    return AppliedUpdatePath(
        tree=new,
        commit_secret=secret,
        private_keys=old_keys.replace(add=derived),
        path_secret=decrypted,
        group_context=group_context,
    )


def joiner_private_keys(
    tree: RatchetTree,
    my_leaf: int,
    leaf_private_key: bytes,
    committer: int,
    path_secret: bytes | None,
) -> TreePrivateKeys:
    """A new member's keys from the Welcome's ``path_secret`` (§12.4.3.1).

    ``tree`` is the group's tree in the new epoch, ``committer`` the leaf that
    sent the commit (the GroupInfo signer). ``path_secret`` is for the lowest
    common ancestor of ``my_leaf`` and ``committer``; the secrets of the
    committer's filtered-direct-path nodes above it follow by DeriveSecret.
    Each derived public key must equal the tree's, and the LCA must be
    non-blank (``V-TKEM-003``). With no
    ``path_secret`` the member knows only its leaf key.
    """
    suite = tree.suite
    leaf = tree.leaf(my_leaf)
    if leaf is None:
        raise StateError("the joiner's leaf is blank")
    if suite.kem_public_key(leaf_private_key) != leaf.encryption_key:
        raise ValidationError("V-TKEM-010", "the leaf private key does not match the tree")
    keys = TreePrivateKeys.for_leaf(my_leaf, leaf_private_key)
    if path_secret is None:
        return keys
    if my_leaf == committer:
        raise UsageError("the committer is not a joiner")
    # The LCA is always on the committer's filtered direct path: its copath child
    # holds this (non-blank) leaf. If the commit left it blank, V-TKEM-003.
    lca = common_ancestor(NodeIndex(2 * my_leaf), NodeIndex(2 * committer))
    return keys.with_path_secret(suite, tree, lca, path_secret)
