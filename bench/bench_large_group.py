"""A group of N members (default 10,000) built and used through a real relay process.

Run: .venv/bin/python bench/bench_large_group.py [--members 10000] [--conns 8]
     .venv/bin/python bench/bench_large_group.py --members 2000 5000   # slope + extrapolation

Issue 13, item 4 (docs/decisions/0018-large-groups.md). One real ``cove-relay``
process (its own SQLite file, WAL, ``synchronous=FULL`` as configured by
default; open registration and the rate limits raised, as the other benches do)
and, in this process, real MLS (suite 1) for every member:

1. N accounts register (register + login; the relay id is read once) and each
   uploads one KeyPackage, over ``--conns`` HTTP connections with asyncio.
2. Member 0 creates the group and adds everyone else in batches of
   ``welcome_devices`` (100, the relay's fixed cap of devices per commit): per
   batch it claims the KeyPackages through the relay, builds the Add commit and
   Welcome, and posts both; the time per batch (claims, build, post until the
   relay has acknowledged it durably) and the Welcome's size are printed.
3. At N members, each with its size: (a) the last member added joins: fetch of
   its inbox (the Welcome) + ``Group.join`` with Cove's credential validator
   (RFC 9420 §12.4.3.1: every leaf signature, the tree hash, parent hashes,
   the GroupInfo signature); (d) member 0 posts one 1 KiB application message,
   the joined member fetches and decrypts it; (b) member 0 commits a
   self-update (build + post + accepted; the tree has never been healed, so
   its path is encrypted to every other leaf, the RFC's resolution), and the
   joined member fetches and processes it; (c) member 0 commits an Add of one
   more member at N (build + post + accepted), and the joined member processes it.
   Anchors, same run: N Ed25519 verifies (libsodium) for the join, one Ed25519
   sign of the encoded tree (the size of the GroupInfo the Add must sign), and
   N HPKE-sized X25519 exchanges for the self-update's path.

With several ``--members`` values each runs against a fresh relay, and the
per-member slope between the two largest is printed with its extrapolation to
10,000 (marked as an extrapolation).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import nacl.bindings as sodium

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cove.client.profile import SUITE, capabilities, group_config, validator  # noqa: E402
from cove.protocol import Group  # noqa: E402
from cove.protocol.crypto import OsRandom  # noqa: E402
from cove.protocol.identity import CoveIdentity  # noqa: E402
from cove.protocol.mls.framing import MLSMessage  # noqa: E402
from cove.protocol.mls.group.results import ApplicationMessage  # noqa: E402
from cove.protocol.mls.key_package import KeyPackage  # noqa: E402
from cove.protocol.mls.key_package_bundle import KeyPackageBundle  # noqa: E402
from cove.protocol.wire import envelopes as E  # noqa: E402
from cove.protocol.wire.auth import login_signing_input, registration_signing_input  # noqa: E402
from cove.protocol.wire.limits import WELCOME_DEVICES, limit  # noqa: E402
from tests.support.relay_process import RelayProcess, TestClient, raw_private  # noqa: E402

RNG = OsRandom()


@dataclass
class Member:
    client: TestClient
    bundle: KeyPackageBundle


def mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


async def register(http: aiohttp.ClientSession, url: str, relay_id: bytes, i: int) -> Member:
    c = TestClient(http, url, f"m{i:05d}-{secrets.token_hex(2)}")
    c.relay_id = relay_id
    signed = registration_signing_input(relay_id, c.handle, c.identity_key, c.device_key)
    resp = await c.call("register", E.RegisterRequest(
        handle=c.handle, identity_key=c.identity_key, device_key=c.device_key,
        identity_sig=c.identity.sign(signed), device_sig=c.device.sign(signed),
    ))  # fmt: skip
    assert isinstance(resp, E.RegisterResponse)
    c.account_id, c.device_id = resp.account_id, resp.device_id
    ch = await c.call("challenge")
    assert isinstance(ch, E.ChallengeResponse)
    sig = c.device.sign(login_signing_input(relay_id, ch.challenge, c.handle, c.device_key))
    login = await c.call("login", E.LoginRequest(
        handle=c.handle, device_key=c.device_key, challenge=ch.challenge, signature=sig,
    ))  # fmt: skip
    assert isinstance(login, E.LoginResponse)
    c.token = login.token
    ident = CoveIdentity.create(c.handle, raw_private(c.identity), c.device_key)
    bundle = KeyPackageBundle.create(
        SUITE, ident.credential(), RNG, now=int(time.time()),
        signature_private=raw_private(c.device), capabilities=capabilities(),
    )  # fmt: skip
    await c.call("upload_key_packages",
                 E.KeyPackageUpload(key_packages=(bundle.key_package_bytes(),)))  # fmt: skip
    return Member(c, bundle)


async def gather_limited(coros: list, conns: int) -> list:  # type: ignore[type-arg]
    sem = asyncio.Semaphore(conns * 2)

    async def one(coro):  # type: ignore[no-untyped-def]
        async with sem:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros))


def key_package(data: bytes) -> KeyPackage:
    body = MLSMessage.from_bytes(data).body
    assert isinstance(body, KeyPackage)
    return body


async def claim(owner: TestClient, handle: str) -> tuple[KeyPackage, bytes]:
    resp = await owner.call("claim_key_packages", E.ClaimRequest(handle=handle))
    assert isinstance(resp, E.ClaimResponse) and len(resp.key_packages) == 1
    item = resp.key_packages[0]
    kp = key_package(item.key_package)
    assert CoveIdentity.from_credential(kp.leaf_node.credential).handle == handle
    return kp, item.device_id


class Log:
    """The committer's view of the group log: the position of the next handshake."""

    def __init__(self) -> None:
        self.position = 0


async def post_commit(
    owner: TestClient, gid: bytes, log: Log, commit: bytes,
    welcome: bytes | None = None, devices: tuple[bytes, ...] | None = None,
) -> None:  # fmt: skip
    resp = await owner.post(gid, commit, position=log.position, welcome=welcome,
                            welcome_devices=devices)  # fmt: skip
    log.position = resp.seq


def anchors(n: int, tree: bytes) -> tuple[float, float, float]:
    """N Ed25519 verifies, one sign of ``tree``, N X25519 exchanges (libsodium)."""
    pub, secret = sodium.crypto_sign_seed_keypair(b"k" * 32)
    signed = sodium.crypto_sign(b"m" * 200, secret)
    start = time.perf_counter()
    for _ in range(n):
        sodium.crypto_sign_open(signed, pub)
    verify = time.perf_counter() - start
    start = time.perf_counter()
    sodium.crypto_sign(tree, secret)
    sign = time.perf_counter() - start
    peer = sodium.crypto_scalarmult_base(b"p" * 32)
    start = time.perf_counter()
    for _ in range(n):
        sodium.crypto_scalarmult(b"s" * 32, peer)
    dh = time.perf_counter() - start
    return verify, sign, dh


async def fetch_after(c: TestClient, gid: bytes, after: int) -> list[E.LoggedMessage]:
    page = await c.call("fetch_messages", query={"after": after}, group_id=gid)
    assert isinstance(page, E.MessagePage)
    return list(page.messages)


async def run(url: str, n: int, conns: int) -> dict[str, float]:
    fig: dict[str, float] = {}
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(
        timeout=timeout, connector=aiohttp.TCPConnector(limit=conns)
    ) as http:
        probe = TestClient(http, url)
        health = await probe.call("health")
        assert isinstance(health, E.Health)

        # 1. accounts and KeyPackages
        start = time.perf_counter()
        members: list[Member] = await gather_limited(
            [register(http, url, health.relay_id, i) for i in range(n + 1)], conns
        )
        t = time.perf_counter() - start
        fig["register_s"] = t
        print(f"  1. {n + 1:,} accounts registered + logged in + 1 KeyPackage each: {t:.1f} s "
              f"({(n + 1) / t:.0f} accounts/s over {conns} connections)", flush=True)  # fmt: skip
        owner, extra = members[0], members[n]  # members[n]: the (N+1)th, for the Add at N
        gid = secrets.token_bytes(32)
        await owner.client.call("create_group", E.CreateGroupRequest(group_id=gid))
        ident = CoveIdentity.from_credential(owner.bundle.key_package.leaf_node.credential)
        group = Group.create(
            SUITE, gid, ident.credential(), RNG, signature_private=raw_private(owner.client.device),
            capabilities=capabilities(), config=group_config(), credential_validator=validator,
            now=int(time.time()),
        )  # fmt: skip
        log = Log()

        # 2. batched Adds
        start_all = time.perf_counter()
        batch_times, builds, last_welcome = [], [], b""
        others = members[1:n]
        for b in range(0, len(others), WELCOME_DEVICES):
            batch = others[b : b + WELCOME_DEVICES]
            t0 = time.perf_counter()
            claimed = await asyncio.gather(*(claim(owner.client, m.client.handle) for m in batch))
            t1 = time.perf_counter()
            out = group.add([kp for kp, _ in claimed], now=int(time.time()))
            assert out.welcome is not None
            t2 = time.perf_counter()
            await post_commit(owner.client, gid, log, out.commit, out.welcome,
                              tuple(d for _, d in claimed))  # fmt: skip
            group.apply_pending_commit()
            t3 = time.perf_counter()
            batch_times.append(t3 - t0)
            builds.append(t2 - t1)
            last_welcome = out.welcome
            size = len(group.members())
            if b == 0 or size == n or (b // WELCOME_DEVICES) % 10 == 9:
                print(f"     batch of {len(batch)} -> {size:,} members: {(t3 - t0) * 1e3:.0f} ms "
                      f"(claims {(t1 - t0) * 1e3:.0f}, build {(t2 - t1) * 1e3:.0f}, post + "
                      f"accept {(t3 - t2) * 1e3:.0f}); commit {mb(len(out.commit))}, Welcome "
                      f"{mb(len(out.welcome))} x {len(batch)} inbox rows", flush=True)  # fmt: skip
        t = time.perf_counter() - start_all
        fig["adds_s"] = t
        print(f"  2. {len(batch_times)} Add commits to {n:,} members: {t:.1f} s; last batch "
              f"{batch_times[-1] * 1e3:.0f} ms (build {builds[-1] * 1e3:.0f} ms); last "
              f"Welcome {mb(len(last_welcome))}", flush=True)  # fmt: skip
        db_size = sum(p.stat().st_size for p in Path(url_data[url]).glob("relay.sqlite3*"))
        print(f"     relay database after the Adds: {mb(db_size)}", flush=True)

        # 3a. join of the last member added, from its Welcome fetched through the relay
        joiner = others[-1]
        start = time.perf_counter()
        inbox = await joiner.client.call("fetch_inbox")
        assert isinstance(inbox, E.InboxPage) and len(inbox.entries) == 1
        entry = inbox.entries[0]
        t_fetch = time.perf_counter() - start
        j = Group.join(entry.welcome, joiner.bundle, RNG, now=int(time.time()),
                       config=group_config(), credential_validator=validator)  # fmt: skip
        t_join = time.perf_counter() - start
        assert j.epoch == group.epoch and j.tree_hash == group.tree_hash
        tree = group.ratchet_tree()
        verify, sign, dh = anchors(n, tree)
        fig["join_s"], fig["verify_s"] = t_join, verify
        print(f"  3a. join at {n:,} (Welcome {mb(len(entry.welcome))}): {t_join:.2f} s "
              f"(inbox fetch {t_fetch * 1e3:.0f} ms) | anchor {n:,} Ed25519 verifies "
              f"{verify:.2f} s, ratio {t_join / verify:.2f}x", flush=True)  # fmt: skip
        cursor = entry.commit_seq

        # 3d. one application message, member 0 -> the joined member
        body = secrets.token_bytes(1024)
        start = time.perf_counter()
        msg = group.encrypt(body)
        resp = await owner.client.post(gid, msg)
        got = await fetch_after(joiner.client, gid, cursor)
        assert [m.seq for m in got] == [resp.seq]
        pm = j.process(got[0].message)
        t = time.perf_counter() - start
        assert isinstance(pm, ApplicationMessage) and pm.data == body
        cursor = resp.seq
        fig["app_ms"] = t * 1e3
        print(f"  3d. application message at {n:,} ({mb(len(msg))}): encrypt + post + fetch + "
              f"decrypt {t * 1e3:.1f} ms", flush=True)  # fmt: skip

        # 3b. self-update at N
        start = time.perf_counter()
        out = group.update(now=int(time.time()))
        t_build = time.perf_counter() - start
        await post_commit(owner.client, gid, log, out.commit)
        group.apply_pending_commit()
        t = time.perf_counter() - start
        start = time.perf_counter()
        got = await fetch_after(joiner.client, gid, cursor)
        j.process(got[0].message)
        t_proc = time.perf_counter() - start
        assert j.epoch == group.epoch and j.tree_hash == group.tree_hash
        cursor = got[0].seq
        fig["update_ms"], fig["dh_s"] = t * 1e3, dh
        print(f"  3b. self-update commit at {n:,} ({mb(len(out.commit))}): {t * 1e3:.0f} ms "
              f"(build {t_build * 1e3:.0f} ms) | anchor {n:,} X25519 {dh * 1e3:.0f} ms, ratio "
              f"{t / dh:.1f}x; fetched + processed by the joined member {t_proc * 1e3:.0f} ms",
              flush=True)  # fmt: skip

        # 3c. Add of one more member at N
        start = time.perf_counter()
        kp, device = await claim(owner.client, extra.client.handle)
        t_claim = time.perf_counter() - start
        out = group.add([kp], now=int(time.time()))
        assert out.welcome is not None
        t_build = time.perf_counter() - start - t_claim
        await post_commit(owner.client, gid, log, out.commit, out.welcome, (device,))
        group.apply_pending_commit()
        t = time.perf_counter() - start
        start = time.perf_counter()
        got = await fetch_after(joiner.client, gid, cursor)
        j.process(got[0].message)
        t_proc = time.perf_counter() - start
        assert j.epoch == group.epoch and j.tree_hash == group.tree_hash
        fig["add_ms"], fig["add_build_ms"], fig["sign_ms"] = t * 1e3, t_build * 1e3, sign * 1e3
        print(f"  3c. Add at {n:,} (commit {mb(len(out.commit))}, Welcome {mb(len(out.welcome))})"
              f": {t * 1e3:.0f} ms (claim {t_claim * 1e3:.0f}, build {t_build * 1e3:.0f} ms) | "
              f"anchor Ed25519 sign of the {mb(len(tree))} tree {sign * 1e3:.1f} ms, build "
              f"ratio {t_build / sign:.1f}x; processed by the joined member {t_proc * 1e3:.0f} ms",
              flush=True)  # fmt: skip
    return fig


url_data: dict[str, str] = {}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, nargs="+", default=[10_000])
    ap.add_argument("--conns", type=int, default=8)
    args = ap.parse_args()
    limits = {
        "unauth_per_address": 10_000_000,
        "requests_per_account": 10_000_000,
        "kp_claims_per_requester": 10_000_000,
        "outstanding_challenges": 100_000,
    }
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.members:
            # the Add at N takes the group to N + 1 members
            lim = {**limits, "group_members": max(limit("group_members"), n + 1)}
            print(f"{n:,} members (suite 1), real relay, SQLite synchronous=FULL", flush=True)
            start = time.perf_counter()
            with RelayProcess.start(Path(tmp) / f"relay{n}", registration="open",
                                    limits=lim) as relay:  # fmt: skip
                url_data[relay.url] = str(relay.data)
                results[n] = asyncio.run(run(relay.url, n, args.conns))
                mem = relay.memory()
            print(f"  total {time.perf_counter() - start:.0f} s; relay peak RSS "
                  f"{mem['VmHWM'] / 1e6:.0f} MB", flush=True)  # fmt: skip
    if len(results) >= 2:
        a, b = sorted(results)[-2:]
        print(f"per-member slope between {a:,} and {b:,}, extrapolated to 10,000 "
              f"(EXTRAPOLATION, not measured):")  # fmt: skip
        for key, unit in (("join_s", "s"), ("update_ms", "ms"), ("add_ms", "ms"),
                          ("adds_s", "s"), ("register_s", "s")):  # fmt: skip
            slope = (results[b][key] - results[a][key]) / (b - a)
            at = results[b][key] + slope * (10_000 - b)
            print(f"  {key}: {slope * 1e3:.4f} {unit} per 1,000 members -> {at:.2f} {unit} "
                  f"at 10,000")  # fmt: skip


if __name__ == "__main__":
    main()
