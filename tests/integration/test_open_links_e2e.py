"""Open links end to end, with the real relay process and clients in their own homes.

An owner turns open links on and creates an open link (the protocol and
``cove.client.invites.create_link`` directly: the invites feature's ``client.invites``
is another helper's); newcomers with no account register with the link alone and join
through ``client.open_links.join``; every member's client accepts each join and the
next commit counts it; one joiner per use; at ``max_uses`` the relay refuses, and a
hostile joiner whom a relay with an edited database lets through anyway is refused by
every member's client (``policy.join.open.used_up``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from cove.client import CoveClient
from cove.client import invites as relay_links
from cove.client.errors import NoPermission
from cove.client.features import moderation as mod
from cove.client.features.join_settings import change_join_settings, join_settings
from cove.protocol import Group
from cove.protocol.crypto import OsRandom
from cove.protocol.invites import (
    HistoryLevel,
    InviteLink,
    LinkEntry,
    LinkMode,
    LinkPreview,
    new_invite_link,
    open_preview,
    seal_group_info,
    seal_preview,
)
from cove.protocol.wire import envelopes as E
from tests.integration.conftest import SHARED_LIMITS
from tests.support.hostile import under_the_client
from tests.support.relay_process import RelayProcess

pytestmark = pytest.mark.integration

WEEK = 7 * 86400


@contextlib.contextmanager
def registering_with(link: InviteLink) -> Iterator[None]:
    """``CoveClient.init`` registers with the link instead of a code
    (``registration_fields(link)`` in the ``RegisterRequest``)."""
    saved = E.RegisterRequest
    E.RegisterRequest = functools.partial(  # type: ignore[misc]
        saved, **relay_links.registration_fields(link)
    )
    try:
        yield
    finally:
        E.RegisterRequest = saved  # type: ignore[misc]


async def load(c: CoveClient, gid: bytes) -> Group:
    async with c.store.transaction() as txn:
        record, group = await c.states.load(txn, gid)
        c.states.keep(record, group)
    return group


async def handles(c: CoveClient, gid: bytes) -> list[str]:
    return sorted(m.handle for m in mod.roster_of(await load(c, gid)))


async def used(c: CoveClient, gid: bytes, link: InviteLink) -> int:
    entry = join_settings(await load(c, gid)).link(link.link_id)
    assert entry is not None
    return entry.used


async def refusals(c: CoveClient, gid: bytes) -> list[str]:
    async with c.store.transaction() as txn:
        return [r.rule for r in await mod.events(txn, gid) if r.kind == "refused"]


class Greeted:
    """Stands in for the newcomers feature: records whom a client greeted."""

    def __init__(self) -> None:
        self.calls: list[tuple[bytes, list[bytes]]] = []

    async def greet(self, group_id: bytes, identity_keys: Sequence[bytes]) -> None:
        self.calls.append((group_id, list(identity_keys)))


async def open_link(
    owner: CoveClient, relay: RelayProcess, gid: bytes, max_uses: int
) -> InviteLink:
    """The owner creates an open link: at the relay (caps, sealed preview), then in the
    group's join settings (a commit every member judges); her client seals the GroupInfo."""
    rng = OsRandom()
    a = owner.account
    link = new_invite_link(relay.url, a.handle, a.identity_key, rng)
    keys = link.keys()
    now = int(time.time())
    preview = LinkPreview(
        group_id=gid, link_id=link.link_id, mode=LinkMode.OPEN, group_name="Living with lupus",
        history=HistoryLevel.NOTHING, inviter_handle=a.handle, inviter_identity_key=a.identity_key,
        max_uses=max_uses, expires_at=now + WEEK, created_at=now,
    )  # fmt: skip
    await relay_links.create_link(
        owner.ctx.session, gid, link, open_link=True, expires_at=now + WEEK, max_uses=max_uses,
        sealed_preview=seal_preview(preview, link, a.identity_private, rng),
    )  # fmt: skip
    entry = LinkEntry(
        keys.link_id, LinkMode.OPEN, keys.signing_public, keys.groupinfo_public, max_uses
    )
    assert await change_join_settings(
        owner.outbox, gid, lambda s: s.with_link(entry), now=owner.clock.now
    )
    return link


async def newcomer(root: Path, relay: RelayProcess, handle: str, link: InviteLink) -> CoveClient:
    with registering_with(link):
        return await CoveClient.init(root / handle, "pw", relay.url, handle, None)


async def preview_of(c: CoveClient, link: InviteLink) -> LinkPreview:
    answer = await relay_links.fetch_preview(c.ctx.session, link)
    return open_preview(answer.preview, link)


@pytest.mark.slow
def test_open_links_admit_one_joiner_per_use(tmp_path: Path) -> None:
    with RelayProcess.start(
        tmp_path / "relay", registration="invite", limits=SHARED_LIMITS
    ) as relay:
        gid = asyncio.run(scenario(tmp_path, relay))
        # The owner's switch from the command line; a plain member cannot use it.
        home = str(tmp_path / "olga")
        assert cove(home, "group", "open-links", gid.hex()) == {"open_links": True}
        off = cove(home, "group", "open-links", gid.hex(), "off")
        assert off == {"ok": True, "open_links": False, "changed": True}
        assert cove(home, "group", "open-links", gid.hex()) == {"open_links": False}
        refused = cove(str(tmp_path / "ana"), "group", "open-links", gid.hex(), "on", check=False)
        assert refused.returncode != 0
        assert "refused: only moderators may change links, rules and history" in refused.stderr


def cove(home: str, *args: str, check: bool = True) -> Any:
    env = {**os.environ, "COVE_PASSPHRASE": "pw"}
    proc = subprocess.run(
        [sys.executable, "-m", "cove.client.cli", "--home", home, "--json", *args],
        capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if not check:
        return proc
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return json.loads(proc.stdout.strip().splitlines()[-1])


async def scenario(tmp_path: Path, relay: RelayProcess) -> bytes:
    if True:
        code = relay.cli("invite", "create", "--uses", "5").strip().splitlines()[-1]
        olga = await CoveClient.init(tmp_path / "olga", "pw", relay.url, "olga", code)
        ana = await CoveClient.init(tmp_path / "ana", "pw", relay.url, "ana", code)
        joiners: list[CoveClient] = []
        try:
            gid = await olga.create_group("Living with lupus")
            await olga.add_members(gid, ["ana"])
            assert (await ana.sync()).joined == 1
            greeted = Greeted()
            olga.open_links.newcomers = greeted  # type: ignore[assignment]
            ana_greeted = Greeted()
            ana.open_links.newcomers = ana_greeted  # type: ignore[assignment]

            # Off by default: only the owner turns it on, and the link is refused till then.
            assert not await olga.open_links.enabled(gid)
            assert await olga.open_links.set_enabled(gid, True)
            assert not await olga.open_links.set_enabled(gid, True)  # already on
            link = await open_link(olga, relay, gid, max_uses=2)
            await ana.sync()
            assert await used(ana, gid, link) == 0

            # nia has no account: the link registers her and lets her in.
            nia = await newcomer(tmp_path, relay, "nia", link)
            joiners.append(nia)
            assert await nia.open_links.join(link, await preview_of(nia, link)) == gid
            for c in (olga, ana):
                await c.sync()
                assert await handles(c, gid) == ["ana", "nia", "olga"]
                assert await used(c, gid, link) == 1  # nia's own first commit counted it
                assert (await load(c, gid)).epoch == (await load(nia, gid)).epoch
                assert await refusals(c, gid) == []
                async with c.store.transaction() as txn:
                    notes = [r.text for r in await mod.events(txn, gid) if r.kind == "change"]
                assert "nia joined with an invite link" in notes
            assert greeted.calls == [(gid, [nia.account.identity_key])]
            assert ana_greeted.calls == []  # a plain member does not greet

            # A second newcomer, then the link is used up.
            dan = await newcomer(tmp_path, relay, "dan", link)
            joiners.append(dan)
            shown = await preview_of(dan, link)
            assert await dan.open_links.join(link, shown) == gid
            for c in (olga, ana, nia):
                await c.sync()
                assert await handles(c, gid) == ["ana", "dan", "nia", "olga"]
                assert await used(c, gid, link) == 2

            # eve (registered with a code: the link's registrations are used up too).
            eve = await CoveClient.init(tmp_path / "eve", "pw", relay.url, "eve", code)
            joiners.append(eve)
            with pytest.raises(NoPermission) as caught:
                await eve.open_links.join(link, shown)
            assert "used as many times as it allows" in str(caught.value)

            # A relay whose database was edited (the use counter reset) and which serves
            # the current GroupInfo lets her hostile client through; every member refuses.
            with contextlib.closing(sqlite3.connect(relay.data / "relay.sqlite3")) as db, db:
                db.execute("UPDATE links SET uses = 0 WHERE link_id = ?", (link.link_id,))
            current = await load(ana, gid)
            entry = join_settings(current).link(link.link_id)
            assert entry is not None
            sealed = seal_group_info(
                link.link_id, entry.groupinfo_key, current.epoch, current.group_info_bytes(),
                current.ratchet_tree(), OsRandom(),
            )  # fmt: skip
            async with ana.store.transaction() as txn:
                position = (await ana.states.load(txn, gid))[0].handshake
            await relay_links.put_group_info(ana.ctx.session, gid, link.link_id, sealed, position)
            before = {c.account.handle: (await load(c, gid)).epoch for c in (olga, ana, nia, dan)}
            with under_the_client():
                preview = await preview_of(eve, link)
                assert await eve.open_links.join(link, preview) == gid  # the relay took it
            for c in (olga, ana, nia, dan):
                await c.sync()
                assert "policy.join.open.used_up" in await refusals(c, gid)
                assert await handles(c, gid) == ["ana", "dan", "nia", "olga"]
                assert (await load(c, gid)).epoch == before[c.account.handle]
            assert len(greeted.calls) == 2  # dan; nobody greets eve

            # The group stays live: an honest commit goes through for everyone.
            await olga.update_keys(gid)
            for c in (ana, nia, dan):
                await c.sync()
                assert (await load(c, gid)).epoch == (await load(olga, gid)).epoch
        finally:
            for c in (olga, ana, *joiners):
                await c.close()
        return gid
