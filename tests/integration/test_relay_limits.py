"""Rate limits at their documented defaults (docs/server/limits.md, read from
cove.protocol.wire.limits): unauthenticated requests per address and
authenticated requests per account."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from cove.protocol.wire import envelopes as E
from cove.protocol.wire.codes import ErrorCode
from cove.protocol.wire.limits import limit
from tests.support.relay_process import RelayProcess, TestClient

pytestmark = pytest.mark.integration


def test_rates_per_address_and_per_account(tmp_path: Path) -> None:
    with RelayProcess.start(tmp_path, registration="open") as relay:

        async def main() -> None:
            async with aiohttp.ClientSession() as http:
                cap = limit("unauth_per_address")
                alice = await TestClient.register(http, relay.url)  # 4 unauthenticated calls
                anon = TestClient(http, relay.url)
                allowed = 4
                while True:
                    status, raw = await anon.raw("POST", "/v1/auth/challenge")
                    if status != 200:
                        break
                    allowed += 1
                    assert allowed <= cap
                # the fixture's health probes at start-up count too (a few at most)
                assert cap - 5 <= allowed <= cap
                err = E.ErrorBody.decode(raw)
                assert status == 429 and err.code == ErrorCode.RATE_LIMITED
                assert err.retry_after is not None and err.retry_after >= 1
                # authenticated traffic is limited per account, not per address
                # (the bucket refills at cap/60 per second while the loop runs)
                per_account = limit("requests_per_account")
                served = 0
                while True:
                    status, raw = await alice.raw("GET", "/v1/account")
                    if status != 200:
                        break
                    served += 1
                    assert served <= 2 * per_account, "no per-account limit"
                assert served >= per_account
                assert status == 429
                assert E.ErrorBody.decode(raw).code == ErrorCode.RATE_LIMITED

        asyncio.run(main())
