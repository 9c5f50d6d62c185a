"""The secret tree and its per-sender ratchets (RFC 9420 §9, §9.1, §9.2).

::

    encryption_secret = secret of the root
    left(x)  = ExpandWithLabel(secret(x), "tree", "left",  KDF.Nh)
    right(x) = ExpandWithLabel(secret(x), "tree", "right", KDF.Nh)

    leaf secret --+--> ExpandWithLabel(., "handshake",   "", KDF.Nh) = handshake ratchet_0
                  +--> ExpandWithLabel(., "application", "", KDF.Nh) = application ratchet_0

    ratchet_j --+--> DeriveTreeSecret(., "nonce",  j, AEAD.Nn) = nonce_j
                +--> DeriveTreeSecret(., "key",    j, AEAD.Nk) = key_j
                +--> DeriveTreeSecret(., "secret", j, KDF.Nh)  = ratchet_(j+1)

Forward secrecy (§9.2): a node's secret is deleted as soon as its children are
derived, a leaf's secret as soon as its two ratchets exist, and a ratchet
secret as soon as the next one is derived. A key is deleted once used, so a
replayed message finds no key. Keys of generations skipped by out-of-order
delivery are kept, at most :attr:`SecretTreeConfig.max_skipped_keys` per
ratchet (oldest evicted first); a generation more than
:attr:`SecretTreeConfig.max_forward_distance` ahead of the ratchet is refused
before any derivation, so a huge generation costs nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeVar

from ..codec import Reader, Writer
from ..crypto import Suite
from ..crypto.labels import expand_with_label, kdf_label_prefix
from ..errors import StateError, UsageError
from . import tree_math as tm

T = TypeVar("T")


class RatchetType(IntEnum):
    HANDSHAKE = 0
    APPLICATION = 1


_RATCHET_LABELS = {RatchetType.HANDSHAKE: b"handshake", RatchetType.APPLICATION: b"application"}


@dataclass(frozen=True, slots=True)
class SecretTreeConfig:
    """Bounds of the out-of-order window (§9.2; RFC 9750 §8.6)."""

    max_skipped_keys: int = 256
    max_forward_distance: int = 1024

    def __post_init__(self) -> None:
        if self.max_skipped_keys < 0 or self.max_forward_distance < 0:
            raise UsageError("secret tree bounds must be non-negative")


class _Ratchet:
    """One hash ratchet: the secret of ``generation`` plus kept skipped keys."""

    __slots__ = ("generation", "secret", "skipped")

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.generation = 0
        self.skipped: OrderedDict[int, tuple[bytes, bytes]] = OrderedDict()

    def __repr__(self) -> str:
        return f"_Ratchet(generation={self.generation}, <redacted>)"


class SecretTree:
    """Lazily expanded secret tree for a group of ``n_leaves`` (a power of two) leaves."""

    __slots__ = ("_config", "_journal", "_n_leaves", "_nodes", "_ratchets", "_step_info", "_suite")

    def __init__(
        self,
        suite: Suite,
        encryption_secret: bytes,
        n_leaves: int,
        config: SecretTreeConfig | None = None,
    ) -> None:
        if n_leaves < 1 or n_leaves & (n_leaves - 1):
            raise UsageError("the number of leaves must be a power of two")
        self._suite = suite
        self._n_leaves = n_leaves
        # KDFLabel heads of the three DeriveTreeSecret calls of a ratchet step, each
        # followed by the 4-byte generation context (its varint header is 0x04).
        self._step_info = tuple(
            (kdf_label_prefix(label, length) + b"\x04", length)
            for label, length in (
                (b"key", suite.aead_key_length),
                (b"nonce", suite.aead_nonce_length),
                (b"secret", suite.hash_length),
            )
        )
        self._config = config or SecretTreeConfig()
        self._nodes: dict[int, bytes] = {tm.root(n_leaves): encryption_secret}
        self._ratchets: dict[tuple[int, RatchetType], _Ratchet] = {}
        #: Undo records of the open transaction (None: no transaction).
        self._journal: list[Callable[[], None]] | None = None

    def __repr__(self) -> str:
        return f"SecretTree(n_leaves={self._n_leaves}, <redacted>)"

    @property
    def n_leaves(self) -> int:
        return self._n_leaves

    # -- tree -----------------------------------------------------------------

    def _leaf_secret(self, leaf: int) -> bytes:
        node = tm.NodeIndex(2 * leaf)
        path = [node, *tm.direct_path(node, self._n_leaves)]
        top = next((i for i, x in enumerate(path) if x in self._nodes), None)
        if top is None:
            raise StateError(f"the secrets of leaf {leaf} were already consumed")
        suite, nh = self._suite, self._suite.hash_length
        for x in reversed(path[1 : top + 1]):
            secret = self._pop_node(x)
            self._set_node(tm.left(x), expand_with_label(suite, secret, b"tree", b"left", nh))
            self._set_node(tm.right(x), expand_with_label(suite, secret, b"tree", b"right", nh))
        return self._pop_node(node)

    # -- transactions ---------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Changes made inside are undone if the block raises (nested blocks join the
        outer one). The undo log holds only what was touched: O(changes), never O(n)."""
        if self._journal is not None:
            yield
            return
        journal: list[Callable[[], None]] = []
        self._journal = journal
        try:
            yield
        except BaseException:
            for undo in reversed(journal):
                undo()
            raise
        finally:
            self._journal = None

    def _set_node(self, x: int, secret: bytes) -> None:
        if self._journal is not None:
            self._journal.append(self._node_restorer(x))
        self._nodes[x] = secret

    def _pop_node(self, x: int) -> bytes:
        if self._journal is not None:
            self._journal.append(self._node_restorer(x))
        return self._nodes.pop(x)

    def _node_restorer(self, x: int) -> Callable[[], None]:
        old = self._nodes.get(x)
        nodes = self._nodes

        def undo() -> None:
            if old is None:
                nodes.pop(x, None)
            else:
                nodes[x] = old

        return undo

    def _touch(self, key: tuple[int, RatchetType], r: _Ratchet) -> None:
        """Record ``r``'s state before it changes (O(kept skipped keys))."""
        if self._journal is None:
            return
        generation, secret, skipped = r.generation, r.secret, OrderedDict(r.skipped)

        def undo() -> None:
            r.generation, r.secret, r.skipped = generation, secret, skipped

        self._journal.append(undo)

    def _ratchet(self, leaf: int, kind: RatchetType) -> _Ratchet:
        ratchet = self._ratchets.get((leaf, kind))
        if ratchet is not None:
            return ratchet
        if not 0 <= leaf < self._n_leaves:
            raise StateError(f"leaf {leaf} is outside the tree")
        leaf_secret = self._leaf_secret(leaf)
        nh = self._suite.hash_length
        ratchets = self._ratchets
        for k, label in _RATCHET_LABELS.items():
            ratchets[(leaf, k)] = _Ratchet(
                expand_with_label(self._suite, leaf_secret, label, b"", nh)
            )
        if self._journal is not None:

            def undo() -> None:
                for k in _RATCHET_LABELS:
                    ratchets.pop((leaf, k), None)

            self._journal.append(undo)
        return ratchets[(leaf, kind)]

    # -- ratchet steps --------------------------------------------------------

    def _step(self, secret: bytes, generation: int) -> tuple[bytes, bytes, bytes]:
        """(key, nonce, next secret) of ``generation`` (DeriveTreeSecret, §9.1)."""
        expand = self._suite.kdf_expand
        ctx = generation.to_bytes(4, "big")
        (k_info, k_len), (n_info, n_len), (s_info, s_len) = self._step_info
        return (
            expand(secret, k_info + ctx, k_len),
            expand(secret, n_info + ctx, n_len),
            expand(secret, s_info + ctx, s_len),
        )

    def next_encryption_keys(self, leaf: int, kind: RatchetType) -> tuple[int, bytes, bytes]:
        """For sending: (generation, key, nonce); the ratchet moves on and forgets them."""
        r = self._ratchet(leaf, kind)
        generation = r.generation
        if generation >= 0xFFFFFFFF:
            raise StateError("ratchet exhausted; a new epoch is needed")
        self._touch((leaf, kind), r)
        key, nonce, r.secret = self._step(r.secret, generation)
        r.generation = generation + 1
        return generation, key, nonce

    def with_decryption_keys(
        self,
        leaf: int,
        kind: RatchetType,
        generation: int,
        use: Callable[[bytes, bytes], T],
    ) -> T:
        """Call ``use(key, nonce)`` for ``generation``; only if it returns is the key consumed.

        A failed ``use`` (e.g. a bad AEAD tag) leaves the ratchet as it was, so a
        forged message cannot burn the key of a genuine one.
        """
        r = self._ratchet(leaf, kind)
        if generation < r.generation:
            keys = r.skipped.get(generation)
            if keys is None:
                raise StateError("generation already used or outside the window")
            result = use(*keys)
            self._touch((leaf, kind), r)
            del r.skipped[generation]
            return result
        if generation - r.generation > self._config.max_forward_distance:
            raise StateError("generation too far ahead")
        secret = r.secret
        skipped: list[tuple[int, tuple[bytes, bytes]]] = []
        for g in range(r.generation, generation):
            key, nonce, secret = self._step(secret, g)
            skipped.append((g, (key, nonce)))
        key, nonce, next_secret = self._step(secret, generation)
        result = use(key, nonce)
        self._touch((leaf, kind), r)
        r.secret = next_secret
        r.generation = generation + 1
        limit = self._config.max_skipped_keys
        for g, keys in skipped[-limit:] if limit else ():
            r.skipped[g] = keys
        while len(r.skipped) > limit:
            r.skipped.popitem(last=False)
        return result

    def generation(self, leaf: int, kind: RatchetType) -> int:
        """The next generation ``leaf`` will use (or expects) for ``kind``."""
        return self._ratchet(leaf, kind).generation

    # -- snapshot (secret: the caller encrypts it) ----------------------------------

    def encode(self, w: Writer) -> None:
        """The remaining secrets: unexpanded nodes, and each ratchet with its kept keys."""
        w.uint32(self._n_leaves)
        w.uint32(self._config.max_skipped_keys)
        w.uint32(self._config.max_forward_distance)
        w.uint32(len(self._nodes))
        for node, secret in sorted(self._nodes.items()):
            w.uint32(node)
            w.opaque(secret)
        w.uint32(len(self._ratchets))
        for (leaf, kind), r in sorted(self._ratchets.items()):
            w.uint32(leaf)
            w.uint8(kind)
            w.uint32(r.generation)
            w.opaque(r.secret)
            w.uint32(len(r.skipped))
            for g, (key, nonce) in r.skipped.items():
                w.uint32(g)
                w.opaque(key)
                w.opaque(nonce)

    @classmethod
    def decode(cls, suite: Suite, r: Reader) -> SecretTree:
        n_leaves = r.uint32()
        config = SecretTreeConfig(r.uint32(), r.uint32())
        tree = cls(suite, b"", max(1, n_leaves), config)
        tree._nodes = {}
        for _ in range(r.uint32()):
            node = r.uint32()
            tree._nodes[node] = r.opaque()
        for _ in range(r.uint32()):
            leaf, kind = r.uint32(), r.uint8()
            if kind > 1:
                raise r.error("unknown ratchet type")
            ratchet = _Ratchet(b"")
            ratchet.generation = r.uint32()
            ratchet.secret = r.opaque()
            for _ in range(r.uint32()):
                g = r.uint32()
                ratchet.skipped[g] = (r.opaque(), r.opaque())
            tree._ratchets[(leaf, RatchetType(kind))] = ratchet
        return tree
