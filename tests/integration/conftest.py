"""Relay subprocess fixtures for the integration tests (see tests/support/relay_process.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.relay_process import RelayProcess

#: Tests share one relay per module, register many accounts from 127.0.0.1 and
#: fuzz from one account, so the per-address and per-account request rates are
#: raised here; test_relay_limits.py checks them on a relay with the defaults.
SHARED_LIMITS = {"unauth_per_address": 1_000_000, "requests_per_account": 1_000_000}


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelayProcess]:
    data: Path = tmp_path_factory.mktemp("relay")
    with RelayProcess.start(data, registration="open", limits=SHARED_LIMITS) as proc:
        yield proc


@pytest.fixture(scope="module")
def links_relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelayProcess]:
    """A relay that registers only with a relay invite code or an invite link
    (``tests/support/links.py``, which imports this module's limits), one per test module."""
    from tests.support.links import serve_links_relay

    yield from serve_links_relay(tmp_path_factory)
