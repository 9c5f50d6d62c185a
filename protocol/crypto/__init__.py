"""The cryptography layer of Cove: MLS cipher suites 1-7 and a PQ hybrid suite, RFC 9420 labelled
operations and base-mode HPKE (RFC 9180), built on ``cryptography``.

* :func:`suite_for` gives the immutable :class:`Suite` of a cipher suite id;
  unknown ids raise :class:`~cove.protocol.errors.UnsupportedCipherSuite`.
* :mod:`.labels` has ExpandWithLabel, DeriveSecret, DeriveTreeSecret,
  RefHash, Sign/VerifyWithLabel and Encrypt/DecryptWithLabel.
* :mod:`.hpke` is the self-contained RFC 9180 implementation.
* Randomness enters only through a :class:`RandomProvider` argument;
  :class:`OsRandom` is the only reader of ``os.urandom`` in ``cove.protocol``.

The specification for auditors is ``docs/protocol/crypto.md``.
"""

from .hpke import HPKEContext
from .labels import (
    LABEL_PREFIX,
    decrypt_with_label,
    derive_secret,
    derive_tree_secret,
    encrypt_with_label,
    expand_with_label,
    ref_hash,
    sign_with_label,
    verify_with_label,
)
from .rng import FixedRandom, OsRandom, RandomProvider, SeededRandom
from .suite import PQ_SUITES, SUPPORTED_SUITES, CipherSuite, Suite, suite_for

__all__ = [
    "LABEL_PREFIX",
    "PQ_SUITES",
    "SUPPORTED_SUITES",
    "CipherSuite",
    "FixedRandom",
    "HPKEContext",
    "OsRandom",
    "RandomProvider",
    "SeededRandom",
    "Suite",
    "decrypt_with_label",
    "derive_secret",
    "derive_tree_secret",
    "encrypt_with_label",
    "expand_with_label",
    "ref_hash",
    "sign_with_label",
    "suite_for",
    "verify_with_label",
]
