"""Loading the third-party interoperability vectors from ../shared.

The vectors are never copied into the project. They are found through
``COVE_MLS_VECTORS`` / ``COVE_HPKE_VECTORS`` (folders), defaulting to
``<repo>/../shared/mls-test-vectors`` and ``<repo>/../shared/hpke-test-vectors``.

Each vector file becomes one pytest parameter per case, with the id
``suite<N>-<index>`` (or ``case<index>`` for files without suites). Cases of
cipher suites Cove has not built yet are skipped with a reason and counted as
skipped, never as passed. Under ``CI=true`` a missing file fails collection.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.support.ci import IN_CI

ROOT = Path(__file__).resolve().parents[2]

#: The cipher suites cove.protocol implements.
BUILT_SUITES = frozenset({1, 2, 3, 4, 5, 6, 7, 0xF001})


def mls_vector_dir() -> Path:
    return Path(os.environ.get("COVE_MLS_VECTORS", ROOT.parent / "shared" / "mls-test-vectors"))


def hpke_vector_dir() -> Path:
    return Path(os.environ.get("COVE_HPKE_VECTORS", ROOT.parent / "shared" / "hpke-test-vectors"))


@cache
def load_json(path: Path) -> Any:
    with path.open("rb") as f:
        return json.load(f)


def _missing(path: Path) -> list[Any]:
    if IN_CI:
        raise FileNotFoundError(f"test vector file missing under CI=true: {path}")
    return [
        pytest.param(
            None,
            id="missing",
            marks=pytest.mark.skip(reason=f"vector file missing: {path}"),
        )
    ]


def cases(name: str, *, directory: Path | None = None) -> list[Any]:
    """One pytest param per case of vector file ``name`` (e.g. ``"tree-math.json"``)."""
    path = (directory or mls_vector_dir()) / name
    if not path.is_file():
        return _missing(path)
    data = load_json(path)
    params = []
    for index, case in enumerate(data):
        suite = case.get("cipher_suite") if isinstance(case, dict) else None
        if suite is None:
            params.append(pytest.param(case, id=f"case{index}"))
        elif suite in BUILT_SUITES:
            params.append(pytest.param(case, id=f"suite{suite}-{index}"))
        else:
            params.append(
                pytest.param(
                    case,
                    id=f"suite{suite}-{index}",
                    marks=pytest.mark.skip(reason=f"cipher suite {suite} not built yet"),
                )
            )
    return params


def h(value: str | None) -> bytes:
    """Hex field of a vector (``None`` stays an error for the caller to notice)."""
    if value is None:
        raise ValueError("expected a hex string, got null")
    return bytes.fromhex(value)


#: Suites whose private keys are NIST-curve scalars (P-256, P-521, P-384).
_SCALAR_SUITES = {2: 32, 5: 66, 7: 48}


def private_key(suite: int, value: str) -> bytes:
    """A private key field of a vector, as Cove's fixed-length SerializePrivateKey.

    Some P-521 keys in the passive-client and message-protection files are 65
    bytes: the scalar with its leading zero byte dropped (the generating
    implementation serialised it minimally). RFC 9180 §7.1.2 fixes the length
    at Nsk = 66, which is all Cove accepts, so the runner left-pads them.
    """
    raw = h(value)
    size = _SCALAR_SUITES.get(suite)
    if size is not None and len(raw) < size:
        return raw.rjust(size, b"\x00")
    return raw
