"""A passphrase strength estimate, the same rule the page's meter shows (static/strength.js).

It is a rough guess of how many tries an attacker who has the store file needs,
from the length and the kinds of characters, with repeated characters, runs and a
few very common choices counted as weak. Scores: 0 very weak, 1 weak, 2 fair,
3 strong, 4 very strong. The app refuses scores below 2 and anything shorter
than :data:`MIN_LENGTH`.
"""

from __future__ import annotations

import itertools
import math

MIN_LENGTH = 10
LABELS = ("very weak", "weak", "fair", "strong", "very strong")
COMMON = ("password", "passphrase", "qwerty", "123456", "letmein", "iloveyou", "cove", "welcome")


def bits(text: str) -> float:
    if not text:
        return 0.0
    pool = 0
    if any(c.islower() for c in text):
        pool += 26
    if any(c.isupper() for c in text):
        pool += 26
    if any(c.isdigit() for c in text):
        pool += 10
    if any(not c.isalnum() and c.isascii() for c in text):
        pool += 33
    if any(not c.isascii() for c in text):
        pool += 100
    # characters that repeat the one before, or continue a run (abc, 321), add little
    effective = 1.0
    for prev, cur in itertools.pairwise(text):
        step = ord(cur) - ord(prev)
        effective += 0.25 if step in (-1, 0, 1) else 1.0
    value = effective * math.log2(max(pool, 2))
    lower = text.lower()
    for word in COMMON:
        if word in lower:
            value -= len(word) * math.log2(max(pool, 2)) * 0.75
    return max(value, 0.0)


def score(text: str) -> int:
    b = bits(text)
    if len(text) < MIN_LENGTH or b < 35:
        return 0 if b < 25 else 1
    if b < 50:
        return 2
    if b < 70:
        return 3
    return 4


def problem(text: str, again: str) -> str | None:
    """Why this passphrase is refused, in plain words, or None."""
    if len(text) < MIN_LENGTH:
        return f"Your passphrase needs at least {MIN_LENGTH} characters."
    if score(text) < 2:
        return "That passphrase is too easy to guess. Try three or four unrelated words."
    if text != again:
        return "The two passphrases are not the same. Please type them again."
    return None
