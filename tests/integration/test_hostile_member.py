"""A hostile member against honest ones, on a real relay (issue 9).

cara is a plain member who goes under her own client: she builds commits with
her MLS ``Group`` object (her group code's own sender check switched off,
``tests.support.hostile``) and posts them with the relay transport directly,
leaving out or faking the routing hints (``remove``, ``welcome_devices``). She
tries every row of the issue's table, promotes herself, changes roles, adds
a banned identity. Each time every honest client refuses, its group state
(epoch, epoch authenticator, roster, roles, name) is unchanged, the refusal is
an event it shows with the rule id, and the group stays live.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from cove.client import CoveClient
from cove.client.features import moderation as mod
from cove.client.group_state import metadata
from cove.client.session import RelayError
from cove.protocol import Group
from cove.protocol.app import Edit, Post, Redaction
from cove.protocol.group_metadata import GROUP_METADATA_EXTENSION, GroupKind, GroupMetadata
from cove.protocol.identity import CoveIdentity
from cove.protocol.mls.framing import MLSMessage
from cove.protocol.mls.key_package import KeyPackage
from cove.protocol.mls.proposals import GroupContextExtensions, Proposal
from cove.protocol.policy import Role, remove_proposals, set_role_proposals
from cove.protocol.wire import envelopes as E
from tests.support.hostile import under_the_client
from tests.support.relay_process import RelayProcess


async def clients(root: Path, url: str, *names: str) -> list[CoveClient]:
    return [await CoveClient.init(root / n, "pw", url, n, None) for n in names]


async def load(c: CoveClient, gid: bytes) -> tuple[Any, Group]:
    async with c.store.transaction() as txn:
        record, group = await c.states.load(txn, gid)
    return record, group  # not kept: the caller's changes are never saved


async def state(c: CoveClient, gid: bytes) -> tuple[Any, ...]:
    _, g = await load(c, gid)
    return (
        g.epoch,
        g.epoch_authenticator,
        tuple(sorted(m.handle for m in mod.roster_of(g))),
        tuple(sorted(mod.roles(g).items())),
        metadata(g).name,
    )


async def rules(c: CoveClient, gid: bytes) -> list[str]:
    async with c.store.transaction() as txn:
        return [r.rule for r in await mod.events(txn, gid) if r.kind == "refused"]


async def post_raw(c: CoveClient, gid: bytes, message: bytes, **routing: Any) -> int:
    record, _ = await load(c, gid)
    handshake = MLSMessage.from_bytes(message).body.content_type != 1  # type: ignore[union-attr]
    req = E.PostMessageRequest(
        idempotency_key=c.rng.random_bytes(16),
        message=message,
        position=record.handshake if handshake else None,
        **routing,
    )
    answer = await c.call("post_message", req, path={"group_id": gid.hex()})
    return int(answer.seq)


async def settle(cs: list[CoveClient]) -> None:
    """Sync until nobody commits (after a removal every member updates its keys)."""
    for _ in range(6):
        reports = [await c.sync() for c in cs]
        if not any(r.commits for r in reports):
            return
    raise AssertionError("the members keep committing")


async def hostile_commit(
    c: CoveClient, gid: bytes, build: Callable[[Group], Any], **routing: Any
) -> Any:
    await c.sync()
    _, group = await load(c, gid)
    with under_the_client():
        out = build(group)
    await post_raw(c, gid, out.commit, **routing)
    return out


async def hostile_record(c: CoveClient, gid: bytes, record: Any) -> None:
    """A record her client would refuse to send, encrypted with her Group directly."""
    async with c.store.transaction() as txn:
        rec, group = await c.states.load(txn, gid)
        message = group.encrypt(record.encode())
        await c.states.save(txn, rec, group)
    await post_raw(c, gid, message)


def test_a_hostile_member_changes_nothing(tmp_path: Path, relay: RelayProcess) -> None:
    async def go() -> None:
        olga, mona, ana, cara, eve, dan = await clients(
            tmp_path, relay.url, "olga", "mona", "ana", "cara", "eve", "dan"
        )
        honest = [olga, mona, ana]
        try:
            gid = await olga.create_group("Support circle")
            await olga.add_members(gid, ["mona", "ana", "cara", "dan"])
            await olga.set_role(gid, "mona", "moderator")
            for c in (mona, ana, cara, dan):
                await c.sync()
            assert await ana.roles(gid) == {
                "olga": "owner", "mona": "moderator", "ana": "member", "cara": "member",
                "dan": "member",
            }  # fmt: skip
            members = {m.handle: m.role for m in await ana.members(gid)}
            assert members["mona"] == "moderator" and members["olga"] == "owner"
            tid = await ana.new_thread(gid, "Good days", "ana's own words")
            for c in (olga, mona, cara):
                await c.sync()

            async def refused_everywhere(rule: str, start: str) -> None:
                before = [await state(c, gid) for c in honest]
                for c in honest:
                    await c.sync()
                for c, b in zip(honest, before, strict=True):
                    assert await state(c, gid) == b
                    assert (await rules(c, gid))[-1] == rule
                    (event,) = [e for e in await c.events(gid) if e.title == "refused"][-1:]
                    assert event.body.startswith(start), event.body
                    assert any(
                        v.type == "event" and v.body == event.body for v in await c.read(gid)
                    )

            # 1. remove the owner, then the moderator, with `remove` left out
            await hostile_commit(cara, gid, lambda g: g.remove([0, 1]))
            await refused_everywhere(
                "policy.remove.requires_moderator", "cara tried to remove olga"
            )

            # 2. add an outsider, the Welcome put in her own inbox
            claim = await cara.call("claim_key_packages", E.ClaimRequest(handle="eve"))
            kp = MLSMessage.from_bytes(claim.key_packages[0].key_package).body
            assert isinstance(kp, KeyPackage)
            out = await hostile_commit(cara, gid, lambda g: g.add([kp], now=cara.clock.now()))
            await refused_everywhere("policy.add.requires_moderator", "cara tried to add eve")
            # eve, handed the Welcome, refuses it too (authorize_join in the group code)
            entry = E.InboxEntry(inbox_id=1, group_id=gid, commit_seq=1, welcome=out.welcome)
            assert not await eve.runner.join(entry)
            assert await eve.groups() == []
            (told,) = eve.runner.refused_welcomes
            assert told.body == (
                "cara tried to add you — refused: only moderators and owners can add members"
            )

            # 3. rename the group
            def rename(g: Group) -> Any:
                others = [e for e in g.extensions if e.extension_type != GROUP_METADATA_EXTENSION]
                meta = GroupMetadata(metadata(g).kind, "cara's group", "")
                return g.commit([Proposal(GroupContextExtensions((*others, meta.extension())))])

            await hostile_commit(cara, gid, rename)
            await refused_everywhere("policy.metadata.requires_moderator", "cara tried to")

            # 4. a self-update whose new leaf says handle="ana", signed with her own key
            def pose_as_ana(g: Group) -> Any:
                me = g.my_leaf_index
                leaf = g._epoch.tree.leaf(me)
                assert leaf is not None
                forged = CoveIdentity.create(
                    "ana", cara.account.identity_private, cara.account.device_key
                )
                g._epoch.tree.set_leaf(me, replace(leaf, credential=forged.credential()))
                return g.update()

            await hostile_commit(cara, gid, pose_as_ana)
            await refused_everywhere("policy.identity.handle_changed", "cara tried to")

            # ... or keeps her handle but swaps in another identity key
            def new_identity_key(g: Group) -> Any:
                me = g.my_leaf_index
                leaf = g._epoch.tree.leaf(me)
                assert leaf is not None
                other = cara.rng.random_bytes(32)
                forged = CoveIdentity.create("cara", other, cara.account.device_key)
                g._epoch.tree.set_leaf(me, replace(leaf, credential=forged.credential()))
                return g.update()

            await hostile_commit(cara, gid, new_identity_key)
            await refused_everywhere("policy.identity.key_changed", "cara tried to")

            # 5. promote herself; 6. demote the moderator
            def roles_change(who: bytes, role: Role) -> Callable[[Group], Any]:
                def build(g: Group) -> Any:
                    props = set_role_proposals(mod.state_of(g), who, role)
                    return g.commit([Proposal(p) for p in props])

                return build

            await hostile_commit(cara, gid, roles_change(cara.account.identity_key, Role.OWNER))
            await refused_everywhere("policy.role.requires_owner", "cara tried to")
            await hostile_commit(cara, gid, roles_change(mona.account.identity_key, Role.MEMBER))
            await refused_everywhere("policy.role.requires_owner", "cara tried to")

            # 7. edit and delete ana's post
            now = cara.clock.now()
            await hostile_record(cara, gid, Edit(id=b"e" * 16, sent_at=now, target=tid, body="x"))
            await refused_everywhere("policy.record.edit_not_author", "cara tried to edit")
            await hostile_record(cara, gid, Redaction(id=b"r" * 16, sent_at=now, target=tid))
            await refused_everywhere("policy.record.delete_not_allowed", "cara tried to delete")
            for c in honest:
                (t,) = await c.threads(gid)
                assert (t.body, t.deleted, t.edited) == ("ana's own words", False, False)

            # replay of ana's ciphertext: MLS refuses it (each key is used once); shown once
            async with ana.store.transaction() as txn:
                root = await ana.messages.find(txn, tid)
            assert root is not None and root[1].seq is not None
            page = await cara.call(
                "fetch_messages", path={"group_id": gid.hex()},
                query={"after": str(root[1].seq - 1), "limit": "1"},
            )  # fmt: skip
            (logged,) = page.messages
            await post_raw(cara, gid, logged.message)
            for c in honest:
                before_q = len(await c.quarantined(gid))
                await c.sync()
                assert [t.id for t in await c.threads(gid)] == [tid]
                assert len(await c.quarantined(gid)) == before_q + 1  # refused by MLS

            # 8. a moderator's deletion is honoured by everyone
            decoy = await ana.new_thread(gid, "Oops", "posted in the wrong group")
            for c in (olga, mona, cara):
                await c.sync()
            await mona.delete(decoy)
            for c in (olga, ana, cara):
                await c.sync()
                shown = {v.id: v for v in await c.read(gid)}
                assert shown[decoy].deleted and shown[decoy].body == ""
            # ... and the relay no longer stores its ciphertext; a member cannot ask that
            async with ana.store.transaction() as txn:
                found = await ana.messages.find(txn, decoy)
            assert found is not None and found[1].seq is not None
            decoy_seq = found[1].seq
            page = await ana.call(
                "fetch_messages", path={"group_id": gid.hex()},
                query={"after": str(decoy_seq - 1), "limit": "1"},
            )  # fmt: skip
            assert decoy_seq not in [m.seq for m in page.messages]
            try:
                await cara.call(
                    "redact", E.RedactRequest(seq=decoy_seq + 1), path={"group_id": gid.hex()}
                )
            except RelayError as exc:
                assert exc.code == "forbidden"
            else:  # pragma: no cover
                raise AssertionError("the relay let a plain member drop a message")
            # cara (a member) cannot delete through her client either
            try:
                await cara.delete(tid)
            except mod.Refused as exc:
                assert exc.rule == "policy.record.delete_not_allowed"
            else:  # pragma: no cover - the assertion is the point
                raise AssertionError("a member's deletion of another's post was sent")

            # 9. ban dan; a moderator going under her client cannot re-add him
            await mona.ban(gid, "dan")
            await dan.sync()
            await settle([olga, mona, ana, cara])
            assert "dan" not in await ana.roles(gid)
            assert await mona.banned(gid) == ["dan"]
            assert await ana.banned(gid) == ["dan"]  # named by the key ana pinned for him
            assert [g.active for g in await dan.groups()] == [False]
            claim = await mona.call("claim_key_packages", E.ClaimRequest(handle="dan"))
            dkp = MLSMessage.from_bytes(claim.key_packages[0].key_package).body
            assert isinstance(dkp, KeyPackage)
            # her own app refuses it; so does the relay when told the Welcome's device
            try:
                await mona.add_members(gid, ["dan"])
            except mod.Refused as exc:
                assert exc.rule == "policy.add.banned"
            else:  # pragma: no cover
                raise AssertionError("a banned identity was added")
            await mona.sync()
            _, mg = await load(mona, gid)
            with under_the_client():
                readd = mg.add([dkp], now=mona.clock.now())
            assert readd.welcome is not None
            try:
                await post_raw(
                    mona, gid, readd.commit, welcome=readd.welcome,
                    welcome_devices=(claim.key_packages[0].device_id,),
                )  # fmt: skip
            except RelayError as exc:
                assert exc.code == "account_banned"
            else:  # pragma: no cover
                raise AssertionError("the relay added a banned account")
            await hostile_commit(mona, gid, lambda g: g.add([dkp], now=mona.clock.now()))
            honest_now = [olga, ana]
            before = [await state(c, gid) for c in honest_now]
            for c, b in zip(honest_now, before, strict=True):
                await c.sync()
                assert await state(c, gid) == b
                assert (await rules(c, gid))[-1] == "policy.add.banned"

            # the group stays live: an honest commit and post after all of it
            await olga.update_keys(gid)
            last = await olga.new_thread(gid, "Still here", "the group goes on")
            for c in (mona, ana, cara):
                await c.sync()
                assert last in [v.id for v in await c.read(gid)]
                assert (await state(c, gid))[0] == (await state(olga, gid))[0]

            # unban and re-add: dan's new Welcome is not taken for a replay
            await mona.unban(gid, "dan")
            await mona.add_members(gid, ["dan"])
            await dan.sync()
            assert [g.active for g in await dan.groups()] == [True]
            await dan.sync()
            await olga.sync()
            assert (await state(dan, gid))[:2] == (await state(olga, gid))[:2]
        finally:
            for c in (olga, mona, ana, cara, eve, dan):
                await c.close()

    asyncio.run(go())


def test_a_removed_members_late_message_is_refused(tmp_path: Path, relay: RelayProcess) -> None:
    """cara's message of the old epoch, in the log after the commit that removed her
    (the relay was not told to drop her), is refused; the relay's table, which
    still lists her, is reported as not matching the group."""

    async def go() -> None:
        olga, ana, cara = await clients(tmp_path, relay.url, "olga2", "ana2", "cara2")
        try:
            gid = await olga.create_group("Late")
            await olga.add_members(gid, ["ana2", "cara2"])
            await ana.sync()
            await cara.sync()
            tid = await olga.new_thread(gid, "t", "")
            await cara.sync()
            _, cg = await load(cara, gid)
            late = cg.encrypt(Post(id=b"p" * 16, sent_at=1, thread=tid, body="late").encode())

            # olga removes cara; the removal's routing hint is lost on the way
            def removal(g: Group) -> Any:
                leaf = next(m.leaf for m in mod.roster_of(g) if m.handle == "cara2")
                return g.commit([Proposal(p) for p in remove_proposals(mod.state_of(g), [leaf])])

            await hostile_commit(olga, gid, removal)  # honest content, no `remove` hint
            await ana.sync()
            assert "cara2" not in await ana.roles(gid)
            await post_raw(cara, gid, late)
            await ana.sync()
            assert (await rules(ana, gid))[-1] == "policy.record.sender_not_member"
            assert b"p" * 16 not in [v.id for v in await ana.read(gid)]
            relay_events = [e.body for e in await ana.events(gid) if e.title == "relay"]
            assert any(b.startswith("the relay lists cara2 as a member") for b in relay_events)
        finally:
            for c in (olga, ana, cara):
                await c.close()

    asyncio.run(go())


def test_a_group_created_before_the_policy_is_refused_clearly(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """A group without the policy extension (made as Cove made groups before issue 9)
    cannot be checked: the client says so, refuses to post or sync it, and the other
    groups still sync."""
    from cove.client.group_state import GroupRecord
    from cove.client.profile import SUITE, capabilities, group_config, validator

    async def go() -> None:
        (old,) = await clients(tmp_path, relay.url, "olda")
        try:
            fine = await old.create_group("New style")
            gid = old.rng.random_bytes(16)
            a = old.account
            legacy = Group.create(
                SUITE, gid, a.identity().credential(), old.rng,
                signature_private=a.device_private,
                extensions=[GroupMetadata(GroupKind.GROUP, "Old style", "").extension()],
                capabilities=capabilities(), config=group_config(), now=old.clock.now(),
                credential_validator=validator,
            )  # fmt: skip
            await old.call("create_group", E.CreateGroupRequest(group_id=gid))
            async with old.store.transaction() as txn:
                await old.states.save(txn, GroupRecord(gid), legacy)
            report = await old.sync()
            (said,) = [e for e in report.events if e.group == gid]
            assert said.body.startswith("this group was created before Cove enforced roles")
            try:
                await old.new_thread(gid, "hello")
            except mod.LegacyGroup as exc:
                assert "create a new group" in str(exc)
            else:  # pragma: no cover
                raise AssertionError("a post went into a group nobody can check")
            await old.new_thread(fine, "hello")  # the new group works
        finally:
            await old.close()

    asyncio.run(go())
