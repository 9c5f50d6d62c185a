"""An open link's GroupInfo and its log position, against a relay that lies about it.

A real relay process whose database the test edits (the ``link_group_info`` row the
joiner fetches), and a proxy in front of it for the joiner (``HostileProxy.group_info``).
The joiner's client refuses every GroupInfo the relay swaps — another link's, a
tampered one, another group's, one whose sealed epoch is not its own, an older one than
she was given before — with its exact message; a stale but genuine one makes her
external commit lose the relay's compare-and-set (nothing appended, no use counted),
she fetches again and joins; the honest path joins. Docs: ``docs/protocol/invites.md`` §9.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import pytest

from cove.client import CoveClient
from cove.client.errors import ClientError
from cove.client.features.join_settings import join_settings
from cove.client.features.open_links import JOIN_ATTEMPTS, STALE_MESSAGE
from cove.protocol.crypto import OsRandom
from cove.protocol.invites import InviteLink, seal_group_info
from cove.protocol.wire import link_envelopes as K
from tests.integration.conftest import SHARED_LIMITS
from tests.integration.test_open_links_e2e import (
    handles,
    load,
    open_link,
    preview_of,
    refusals,
    registering_with,
)
from tests.support.hostile_proxy import HostileProxy
from tests.support.relay_process import RelayProcess

pytestmark = pytest.mark.integration

Row = tuple[int, int, bytes]  # epoch, position, sealed
UNOPENED = (
    "the relay's GroupInfo does not open with this link (altered, or another link's) "
    "(invite.preview.undecryptable); not joining"
)


class Db:
    """The relay's database, edited under the running relay."""

    def __init__(self, relay: RelayProcess) -> None:
        self.path = relay.data / "relay.sqlite3"

    def row(self, link: InviteLink) -> Row:
        with contextlib.closing(sqlite3.connect(self.path)) as db:
            got = db.execute(
                "SELECT epoch, position, sealed FROM link_group_info WHERE link_id = ?",
                (link.link_id,),
            ).fetchone()
        assert got is not None
        return int(got[0]), int(got[1]), bytes(got[2])

    def put(self, link: InviteLink, row: Row) -> None:
        with contextlib.closing(sqlite3.connect(self.path)) as db, db:
            db.execute(
                "UPDATE link_group_info SET epoch = ?, position = ?, sealed = ? WHERE link_id = ?",
                (*row, link.link_id),
            )

    def uses(self, link: InviteLink) -> int:
        with contextlib.closing(sqlite3.connect(self.path)) as db:
            (n,) = db.execute(
                "SELECT uses FROM links WHERE link_id = ?", (link.link_id,)
            ).fetchone()
        return int(n)

    def handshakes(self, gid: bytes) -> int:
        """Handshake messages in the log (an external commit that was appended is one)."""
        with contextlib.closing(sqlite3.connect(self.path)) as db:
            (n,) = db.execute(
                "SELECT COUNT(*) FROM messages WHERE group_id = ? AND handshake = 1", (gid,)
            ).fetchone()
        return int(n)


async def sealed_for(owner: CoveClient, gid: bytes, link: InviteLink, epoch: int | None = None,
                     of: bytes | None = None) -> bytes:  # fmt: skip
    """What a member would seal for ``link``: group ``of``'s current GroupInfo (by
    default the link's own group), under the sealed header's ``epoch``."""
    group = await load(owner, of or gid)
    entry = join_settings(await load(owner, gid)).link(link.link_id)
    assert entry is not None
    return seal_group_info(
        link.link_id, entry.groupinfo_key, group.epoch if epoch is None else epoch,
        group.group_info_bytes(), group.ratchet_tree(), OsRandom(),
    )  # fmt: skip


async def refused(c: CoveClient, link: InviteLink) -> str:
    with pytest.raises(ClientError) as caught:
        await c.open_links.join(link, await preview_of(c, link))
    return str(caught.value)


@pytest.mark.slow
def test_swapped_group_infos_are_refused_and_a_stale_one_is_retried(tmp_path: Path) -> None:
    with RelayProcess.start(
        tmp_path / "relay", registration="invite", limits=SHARED_LIMITS
    ) as relay:
        asyncio.run(scenario(tmp_path, relay, Db(relay)))


async def scenario(tmp_path: Path, relay: RelayProcess, db: Db) -> None:
    code = relay.cli("invite", "create", "--uses", "5").strip().splitlines()[-1]
    olga = await CoveClient.init(tmp_path / "olga", "pw", relay.url, "olga", code)
    ana = await CoveClient.init(tmp_path / "ana", "pw", relay.url, "ana", code)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(olga.close)
        stack.push_async_callback(ana.close)
        gid = await olga.create_group("Living with lupus")
        other = await olga.create_group("Another group")
        await olga.add_members(gid, ["ana"])
        assert (await ana.sync()).joined == 1
        assert await olga.open_links.set_enabled(gid, True)
        link = await open_link(olga, relay, gid, max_uses=3)
        second = await open_link(olga, relay, gid, max_uses=3)
        await ana.sync()

        # The honest relay stores each GroupInfo with the position of the commit that
        # made its epoch (the owner's last commit: the one that added `second`).
        async with olga.store.transaction() as txn:
            record, group = await olga.states.load(txn, gid)
            olga.states.keep(record, group)
        genuine = db.row(link)
        assert genuine[:2] == (group.epoch, record.handshake)
        assert db.row(second)[:2] == genuine[:2]

        proxy = await stack.enter_async_context(HostileProxy.running(relay.url))
        with registering_with(link):
            nia = await CoveClient.init(tmp_path / "nia", "pw", proxy.url, "nia", None)
        stack.push_async_callback(nia.close)
        before = (await handles(olga, gid), db.handshakes(gid))

        async def swapped(row: Row) -> str:
            db.put(link, row)
            try:
                return await refused(nia, link)
            finally:
                db.put(link, genuine)
                assert db.uses(link) == 0  # nothing was counted
                assert db.handshakes(gid) == before[1]  # nothing was appended

        epoch, position, sealed = genuine
        # another open link's GroupInfo (its header names that link) ...
        assert await swapped(db.row(second)) == (
            "the relay's GroupInfo is sealed for another link (invite.preview.wrong_link); "
            "not joining"
        )
        # ... or re-labelled as this link's: the header is the HPKE context, it does not open
        relabelled = sealed[:1] + link.link_id + db.row(second)[2][11:]
        assert await swapped((epoch, position, relabelled)) == (UNOPENED)
        tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
        assert await swapped((epoch, position, tampered)) == (UNOPENED)
        # a member of both groups seals the other group's GroupInfo to this link
        foreign = await sealed_for(olga, gid, link, of=other)
        assert await swapped((epoch, position, foreign)) == (
            "the relay's GroupInfo is not the previewed group's; not joining"
        )
        # this group's GroupInfo under a sealed header that names another epoch
        relabelled_epoch = await sealed_for(olga, gid, link, epoch=epoch + 1)
        assert await swapped((epoch + 1, position, relabelled_epoch)) == (
            f"the relay's GroupInfo is of epoch {epoch} but sealed as epoch {epoch + 1}; "
            "not joining"
        )
        assert await handles(olga, gid) == before[0]

        # The group moves on (a commit re-seals every open link at its own position).
        await olga.update_keys(gid)
        await ana.sync()
        newer = db.row(link)
        assert newer[0] == epoch + 1 and newer[1] > position
        base = db.handshakes(gid)
        # A relay that hands out the current GroupInfo at a stale position: the joiner's
        # commit loses the compare-and-set every time; nothing appended, nothing counted.
        db.put(link, (newer[0], position, newer[2]))
        assert await refused(nia, link) == STALE_MESSAGE
        assert (db.uses(link), db.handshakes(gid)) == (0, base)
        # She was given epoch+1: the older genuine GroupInfo is now refused.
        db.put(link, genuine)
        assert await refused(nia, link) == (
            f"the relay's GroupInfo (epoch {epoch}) is older than one it gave you before "
            f"(epoch {epoch + 1}); not joining"
        )
        assert (db.uses(link), db.handshakes(gid)) == (0, base)

        # A stale but genuine GroupInfo (the relay serves epoch's, at its true position,
        # once): her commit loses the compare-and-set, she fetches again and joins.
        db.put(link, newer)
        with registering_with(link):
            dan = await CoveClient.init(tmp_path / "dan", "pw", proxy.url, "dan", None)
        stack.push_async_callback(dan.close)
        served: list[int] = []

        def stale_once(answer: K.LinkGroupInfo) -> K.LinkGroupInfo:
            served.append(answer.position)
            if len(served) == 1:
                return K.LinkGroupInfo(sealed=genuine[2], position=genuine[1])
            return answer

        proxy.group_info = stale_once
        assert await dan.open_links.join(link, await preview_of(dan, link)) == gid
        proxy.group_info = None
        assert served == [newer[1], newer[1]]
        assert db.uses(link) == 1  # counted once: the accepted commit
        for c in (olga, ana):
            await c.sync()
            assert await handles(c, gid) == ["ana", "dan", "olga"]
            assert await refusals(c, gid) == []

        # The honest path: nia, refused above, joins now that the relay is honest.
        assert await nia.open_links.join(link, await preview_of(nia, link)) == gid
        assert db.uses(link) == 2
        for c in (olga, ana, dan):
            await c.sync()
            assert await handles(c, gid) == ["ana", "dan", "nia", "olga"]
            assert (await load(c, gid)).epoch == (await load(nia, gid)).epoch
            assert await refusals(c, gid) == []
    assert JOIN_ATTEMPTS > 1
