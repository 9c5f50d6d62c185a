"""Per-member TreeKEM private state (RFC 9420 §7.4): path-secret derivation
(``next_path_secret``, ``derive_node_key_pair``) and :class:`TreePrivateKeys`, the
private keys of the nodes on a member's direct path, with their checks against the
public tree (``V-TKEM-003``, ``V-TKEM-010``). :mod:`.treekem` builds and applies
UpdatePaths on these and re-exports every public name here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from ..codec import Reader, Struct, Writer
from ..crypto import Suite
from ..crypto.labels import derive_secret
from ..errors import UsageError, ValidationError
from .ratchet_tree import RatchetTree
from .tree_math import LeafIndex, NodeIndex, is_in_subtree

_MAX_NODE_KEYS: Final = 33


def next_path_secret(suite: Suite, path_secret: bytes) -> bytes:
    """``DeriveSecret(path_secret, "path")``: the next node's path secret, or the commit secret."""
    return derive_secret(suite, path_secret, b"path")


def derive_node_key_pair(suite: Suite, path_secret: bytes) -> tuple[bytes, bytes]:
    """``DeriveKeyPair(DeriveSecret(path_secret, "node"))``: ``(private, public)``."""
    return suite.derive_key_pair(derive_secret(suite, path_secret, b"node"))


# ============================================================================ private keys


def _write_node_key(w: Writer, item: tuple[NodeIndex, bytes]) -> None:
    w.uint32(item[0])
    w.opaque(item[1])


def _read_node_key(r: Reader) -> tuple[NodeIndex, bytes]:
    return NodeIndex(r.uint32()), r.opaque()


@dataclass(frozen=True, slots=True, repr=False, eq=True)
class TreePrivateKeys(Struct):
    """The private HPKE keys one member holds: its leaf's and those of the
    parent nodes on its direct path it knows (§4, tree invariant).

    ``keys`` maps a node index to the HPKE private key (SerializePrivateKey
    form) of that node. Public keys are not stored: they are re-derived when
    needed and compared with the tree.

    Encoding (for the group snapshot; entries sorted by node index)::

        struct {
            uint32 node;
            opaque private_key<V>;
        } NodePrivateKey;

        struct {
            uint32 leaf_index;
            NodePrivateKey keys<V>;
        } TreePrivateKeys;

    The repr shows node indices only. Immutable: every change returns a new
    object.
    """

    leaf_index: LeafIndex
    keys: Mapping[NodeIndex, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A private sorted copy, exposed read-only (typed Mapping). Not a
        # MappingProxyType, which copy.deepcopy and pickle refuse.
        object.__setattr__(self, "keys", dict(sorted(self.keys.items())))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"TreePrivateKeys(leaf_index={self.leaf_index}, nodes={list(self.keys)})"

    # -- construction ----------------------------------------------------------

    @classmethod
    def empty(cls, leaf_index: int = 0) -> TreePrivateKeys:
        """No keys at all (a placeholder, e.g. before an external join completes)."""
        return cls(LeafIndex(leaf_index), {})

    @classmethod
    def for_leaf(cls, leaf_index: int, private_key: bytes) -> TreePrivateKeys:
        """A member that knows only its leaf key (e.g. a new group, or just added)."""
        return cls(LeafIndex(leaf_index), {NodeIndex(2 * leaf_index): private_key})

    @classmethod
    def from_path_secrets(
        cls,
        suite: Suite,
        leaf_index: int,
        leaf_private_key: bytes,
        path_secrets: Mapping[int, bytes],
    ) -> TreePrivateKeys:
        """Leaf key plus the node keys derived from known path secrets (``node -> secret``)."""
        keys: dict[NodeIndex, bytes] = {NodeIndex(2 * leaf_index): leaf_private_key}
        for n, secret in path_secrets.items():
            keys[NodeIndex(n)] = derive_node_key_pair(suite, secret)[0]
        return cls(LeafIndex(leaf_index), keys)

    # -- access ----------------------------------------------------------------

    def get(self, node: int) -> bytes | None:
        """The private key held for ``node``, if any."""
        return self.keys.get(NodeIndex(node))

    @property
    def leaf_private_key(self) -> bytes | None:
        """The private key of the member's own leaf."""
        return self.keys.get(NodeIndex(2 * self.leaf_index))

    def replace(
        self, remove: Iterable[int] = (), add: Mapping[NodeIndex, bytes] | None = None
    ) -> TreePrivateKeys:
        """A copy without the nodes ``remove`` and with the entries ``add``."""
        keys = dict(self.keys)
        for n in remove:
            keys.pop(NodeIndex(n), None)
        if add:
            keys.update(add)
        return TreePrivateKeys(self.leaf_index, keys)

    def with_path_secret(
        self, suite: Suite, tree: RatchetTree, node: int, path_secret: bytes
    ) -> TreePrivateKeys:
        """Add the keys a joiner learns from the Welcome's ``path_secret`` (§12.4.3.1).

        ``node`` is the lowest common ancestor of this member and the committer;
        ``tree`` is the tree of the new epoch. The secret belongs to ``node``; the
        non-blank ancestors of ``node`` (exactly the committer's filtered direct
        path above it, since the commit blanked the rest of that path) get
        ``DeriveSecret(., "path")`` in turn. Each derived public key must equal
        the tree's (``V-TKEM-003``). :func:`joiner_private_keys` finds ``node``
        from the committer's leaf index.
        """
        if suite is not tree.suite:
            raise UsageError("suite and tree disagree")
        if node % 2 == 0 or node >= tree.n_nodes:
            raise UsageError(f"node {node} is not a parent node of the tree")
        if not is_in_subtree(NodeIndex(2 * self.leaf_index), NodeIndex(node)):
            raise UsageError(f"node {node} is not above leaf {self.leaf_index}")
        derived: dict[NodeIndex, bytes] = {}
        secret = path_secret
        for p in (NodeIndex(node), *tree.direct_path(node)):
            value = tree.parent_node(p)
            if value is None:
                if p == node:
                    raise ValidationError("V-TKEM-003", f"path secret for blank node {p}")
                continue
            priv, pub = derive_node_key_pair(suite, secret)
            if value.encryption_key != pub:
                raise ValidationError(
                    "V-TKEM-003", f"the path secret for node {p} derives a different public key"
                )
            derived[p] = priv
            secret = next_path_secret(suite, secret)
        return self.replace(add=derived)

    # -- consistency -------------------------------------------------------------

    def _path(self, tree: RatchetTree) -> set[int]:
        return {2 * self.leaf_index, *tree.direct_path(2 * self.leaf_index)}

    def check_against(self, tree: RatchetTree) -> None:
        """``V-TKEM-010`` unless every key is for the member's leaf or a node of its
        direct path, that node is non-blank and its public key is the one the
        private key derives."""
        if not 0 <= self.leaf_index < tree.n_leaves:
            raise ValidationError("V-TKEM-010", "leaf index outside the tree")
        allowed = self._path(tree)
        for n, private in self.keys.items():
            if n not in allowed:
                raise ValidationError("V-TKEM-010", f"private key for node {n} off the path")
            value = tree.node(n)
            if value is None or value.encryption_key != tree.suite.kem_public_key(private):
                raise ValidationError("V-TKEM-010", f"private key for node {n} not in the tree")

    def pruned(self, tree: RatchetTree) -> TreePrivateKeys:
        """Only the keys still in use in ``tree``: the node is on the member's
        path, non-blank and carries the matching public key. Call after applying
        proposals that blank paths (Update, Remove) so old keys are deleted."""
        if not 0 <= self.leaf_index < tree.n_leaves:
            return TreePrivateKeys(self.leaf_index, {})
        allowed = self._path(tree)
        kept: dict[NodeIndex, bytes] = {}
        for n, private in self.keys.items():
            if n in allowed:
                value = tree.node(n)
                if value is not None and value.encryption_key == tree.suite.kem_public_key(private):
                    kept[n] = private
        return TreePrivateKeys(self.leaf_index, kept)

    # -- codec -----------------------------------------------------------------

    def encode(self, w: Writer) -> None:
        w.uint32(self.leaf_index)
        w.vector(self.keys.items(), _write_node_key)

    @classmethod
    def decode(cls, r: Reader) -> TreePrivateKeys:
        leaf_index = LeafIndex(r.uint32())
        entries = r.vector(_read_node_key)
        if len(entries) > _MAX_NODE_KEYS:
            raise r.error("too many node keys")
        keys: dict[NodeIndex, bytes] = {}
        for n, private in entries:
            if n in keys:
                raise r.error(f"node {n} appears twice")
            keys[n] = private
        return cls(leaf_index, keys)
