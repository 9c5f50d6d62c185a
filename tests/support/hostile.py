"""A hostile member who goes under her own client: she builds commits that her
group code's own policy check (the sender's courtesy check) would refuse.

Only the *sender's* check is switched off (``policy_hook.check_own_commit``);
every receiver in the same process still runs the real policy, which is the
point of the tests that use this.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cove.protocol.mls.group import policy_hook


@contextmanager
def under_the_client() -> Iterator[None]:
    saved = policy_hook.check_own_commit

    def nothing(*args: Any, **kwargs: Any) -> None:
        return None

    policy_hook.check_own_commit = nothing  # type: ignore[assignment]
    try:
        yield
    finally:
        policy_hook.check_own_commit = saved  # type: ignore[assignment]
