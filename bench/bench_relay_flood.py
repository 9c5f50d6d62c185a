"""Relay memory under an upload flood: one member starts 40 concurrent 8 MiB uploads.

    .venv/bin/python bench/bench_relay_flood.py [--uploads 40] [--size 8388608]

Prints the relay process's resident memory (``VmRSS`` from ``/proc``) before
the flood, its peak during it (``VmHWM``, the kernel's high-water mark) and
after it, and how the uploads were answered. The anchor is the same relay's
idle footprint measured in the same run: the figure that counts is the growth.
Before uploads were admitted from the head (issue 10) the same flood took the
relay from 69 MB to 516 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
from collections import Counter
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cove.protocol.wire import envelopes as E  # noqa: E402
from tests.support.relay_process import RelayProcess, TestClient, new_group_id  # noqa: E402

LIMITS = {"unauth_per_address": 1_000_000, "requests_per_account": 1_000_000}


async def flood(relay: RelayProcess, uploads: int, size: int) -> Counter[int]:
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=600), connector=aiohttp.TCPConnector(limit=0)
    ) as http:
        member = await TestClient.register(http, relay.url)
        gid = new_group_id()
        await member.call("create_group", E.CreateGroupRequest(group_id=gid))
        body = secrets.token_bytes(size)
        path = f"/v1/groups/{gid.hex()}/blobs"

        async def one() -> int:
            try:
                status, _ = await member.raw("POST", path, body, "application/octet-stream")
            except aiohttp.ClientError:
                return -1  # the relay answered and closed before the body was all sent
            return status

        return Counter(await asyncio.gather(*(one() for _ in range(uploads))))


def run(uploads: int, size: int) -> tuple[int, int, int, Counter[int]]:
    """(RSS before, peak RSS, RSS after, answers by status) of one flood."""
    with tempfile.TemporaryDirectory() as tmp:
        relay = RelayProcess.init(Path(tmp) / "relay", registration="open", limits=LIMITS)
        relay.serve()
        try:
            before = relay.memory()
            answers = asyncio.run(flood(relay, uploads, size))
            after = relay.memory()
        finally:
            relay.stop()
    return before["VmRSS"], after["VmHWM"], after["VmRSS"], answers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uploads", type=int, default=40)
    parser.add_argument("--size", type=int, default=8 * 1024 * 1024)
    args = parser.parse_args()
    before, peak, after, answers = run(args.uploads, args.size)
    mb = 1_000_000
    shown = ", ".join(f"{n} × {status}" for status, n in sorted(answers.items()))
    print(f"{args.uploads} concurrent uploads of {args.size} bytes by one member")
    print(f"relay RSS: idle {before / mb:.0f} MB (anchor), peak {peak / mb:.0f} MB, "
          f"after {after / mb:.0f} MB; growth at peak {(peak - before) / mb:.0f} MB")  # fmt: skip
    print(f"answers: {shown} (429 = refused from the head by the in-flight cap)")


if __name__ == "__main__":
    main()
