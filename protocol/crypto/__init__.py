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

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Loaded on first use (PEP 562): importing one module of this package (``.stream``,
# say) does not load every suite, HPKE and ``cryptography``'s key types.
_LAZY = {
    "HPKEContext": ".hpke",
    "LABEL_PREFIX": ".labels",
    "decrypt_with_label": ".labels",
    "derive_secret": ".labels",
    "derive_tree_secret": ".labels",
    "encrypt_with_label": ".labels",
    "expand_with_label": ".labels",
    "ref_hash": ".labels",
    "sign_with_label": ".labels",
    "verify_with_label": ".labels",
    "FixedRandom": ".rng",
    "OsRandom": ".rng",
    "RandomProvider": ".rng",
    "SeededRandom": ".rng",
    "PQ_SUITES": ".suite",
    "SUPPORTED_SUITES": ".suite",
    "CipherSuite": ".suite",
    "Suite": ".suite",
    "suite_for": ".suite",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


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
