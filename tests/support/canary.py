"""Canary strings and a scanner that looks for them in every encoding a leak might take.

A canary is a fresh random token with a readable label. The scanner reads
every file under a folder and searches each canary as raw UTF-8, UTF-16LE,
UTF-16BE, lower- and upper-case hex, base64 and base64url at all three
alignments, percent-encoding and JSON ``\\u`` escapes of its non-ASCII form.
A scan only means something if it can find a planted canary: tests check
that too.
"""

from __future__ import annotations

import base64
import secrets
import urllib.parse
from collections.abc import Iterable
from pathlib import Path


class Canaries:
    def __init__(self) -> None:
        self._by_label: dict[str, str] = {}

    def new(self, label: str, *, token_only: bool = False) -> str:
        token = "cnry" + secrets.token_hex(12)
        value = token if token_only else f"{label} {token} ünïcödé"
        self._by_label[label] = value
        return value

    def __getitem__(self, label: str) -> str:
        return self._by_label[label]

    def values(self) -> list[str]:
        return list(self._by_label.values())


def _b64_variants(data: bytes) -> set[bytes]:
    out: set[bytes] = set()
    for shift in range(3):
        padded = b"\x00" * shift + data
        for enc in (base64.b64encode, base64.urlsafe_b64encode):
            text = enc(padded)
            # Drop the characters that depend on the unknown neighbours.
            start = (shift * 4 + 2) // 3 + (1 if shift else 0)
            core = text[start : len(text) - 4]
            if len(core) >= 8:
                out.add(core)
    return out


def encodings(canary: str) -> set[bytes]:
    """Byte patterns under which ``canary`` (or its random token) could appear."""
    forms: set[bytes] = set()
    token = next(w for w in canary.split() if w.startswith("cnry"))
    for text in {canary, token}:
        raw = text.encode()
        forms |= {
            raw,
            text.encode("utf-16-le"),
            text.encode("utf-16-be"),
            raw.hex().encode(),
            raw.hex().upper().encode(),
            urllib.parse.quote(text).encode(),
            text.encode("ascii", "backslashreplace").replace(b"\\x", b"\\u00"),
        }
        forms |= _b64_variants(raw)
    return forms


def scan_tree(root: Path, canaries: Iterable[str]) -> list[tuple[str, str]]:
    """(file, canary) for every canary found in any file under ``root``."""
    patterns = {c: encodings(c) for c in canaries}
    hits = []
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        for canary, forms in patterns.items():
            if any(f in data for f in forms):
                hits.append((str(path.relative_to(root)), canary))
    return hits
