"""PrivateMessage protect + unprotect throughput and secret-tree derivation rate (suite 1).

Run: .venv/bin/python bench/bench_private_message.py [--seconds S]

Prints, for 100 B and 1 KiB application payloads: messages/s for protect
(sign + encrypt) and unprotect (decrypt + verify) separately and for the
round trip; and secret-tree ratchet steps per second (one step = key, nonce
and next secret of one generation, three ExpandWithLabel calls).
"""

from __future__ import annotations

import argparse
import time

from cove.protocol.crypto import SeededRandom, suite_for
from cove.protocol.mls.framing import FramedContent, Sender, WireFormat
from cove.protocol.mls.group_context import GroupContext
from cove.protocol.mls.message_protection import (
    protect_private,
    sign_content,
    unprotect_private,
)
from cove.protocol.mls.secret_tree import RatchetType, SecretTree, SecretTreeConfig

SUITE = suite_for(1)
RNG = SeededRandom(b"bench")
PRIV, PUB = SUITE.generate_signature_key_pair(RNG)
CTX = GroupContext(1, b"g" * 16, 7, b"t" * 32, b"c" * 32)
APP = RatchetType.APPLICATION


def _tree() -> SecretTree:
    # Wide enough that a long run never meets the forward-distance bound.
    return SecretTree(SUITE, b"e" * 32, 8, SecretTreeConfig(max_forward_distance=10**9))


def _rate(fn, seconds: float) -> tuple[float, int]:
    n, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(50):
            fn()
        n += 50
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start), n


def bench_messages(size: int, seconds: float) -> None:
    payload = b"x" * size
    sender, receiver = _tree(), _tree()
    sd = b"s" * 32

    def protect():
        content = FramedContent(CTX.group_id, CTX.epoch, Sender.member(3), b"", payload)
        signed = sign_content(SUITE, WireFormat.PRIVATE_MESSAGE, content, PRIV, CTX)
        return protect_private(SUITE, signed, sender, sd, RNG)

    messages = []
    rate_p, n = _rate(lambda: messages.append(protect()), seconds)
    it = iter(messages)
    start = time.perf_counter()
    for msg in it:
        unprotect_private(SUITE, msg, receiver, sd, CTX, lambda c: PUB)
    rate_u = len(messages) / (time.perf_counter() - start)
    both = 1 / (1 / rate_p + 1 / rate_u)
    print(
        f"PrivateMessage {size:5d} B payload: protect {rate_p:8.0f} msg/s, "
        f"unprotect {rate_u:8.0f} msg/s, protect+unprotect {both:8.0f} msg/s ({n} messages)"
    )


def bench_secret_tree(seconds: float) -> None:
    tree = _tree()
    rate, _ = _rate(lambda: tree.next_encryption_keys(0, APP), seconds)
    print(f"secret tree ratchet steps: {rate:8.0f} generations/s ({3 * rate:8.0f} derivations/s)")

    def fresh_leaf() -> None:
        t = SecretTree(SUITE, b"e" * 32, 1024)
        for leaf in range(1024):
            t.next_encryption_keys(leaf, APP)

    rate, _ = _rate(fresh_leaf, seconds)
    print(f"secret tree full expansion of 1024 leaves: {rate * 1024:8.0f} leaves/s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    print(f"suite 1 (X25519, AES-128-GCM, SHA-256, Ed25519); {args.seconds:.0f} s per figure")
    for size in (100, 1024):
        bench_messages(size, args.seconds)
    bench_secret_tree(args.seconds)


if __name__ == "__main__":
    main()
