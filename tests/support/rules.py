"""``raises_rule``: assert that a refusal is a ValidationError with one exact rule id."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from cove.protocol.errors import ValidationError


@contextmanager
def raises_rule(rule_id: str) -> Iterator[pytest.ExceptionInfo[ValidationError]]:
    """Like ``pytest.raises(ValidationError)``, and the error's ``rule`` must be
    ``rule_id`` exactly (so a refusal for some other reason fails the test)."""
    with pytest.raises(ValidationError) as info:
        yield info
    assert info.value.rule == rule_id, (
        f"expected rule {rule_id}, got {info.value.rule}: {info.value}"
    )
