"""The moderators' group follows role changes (issue 11, decision 0016 §2,
``docs/protocol/invites.md`` §7, §16), against the real relay process, through ``cove``.

Promoted: the new moderator is added to the moderators' group with the keys and links,
and reads and approves a request. Demoted, removed or gone: she is removed from it, the
intake key moves to the next generation, the previews are re-sealed (a newcomer's
preview names the new generation), her own links stop working, requests sealed to the
old generation before the change stay readable by the others — and her client, going
under the app with everything it kept, opens nothing sealed after the change.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cove.client.features import invites_store as S
from cove.client.features.invites import moderators_group_id
from cove.client.service import CoveClient
from cove.protocol.invites import (
    IntakeKeyPair,
    InviteRefused,
    JoinSettings,
    derive_intake_key,
    intake_exporter_context,
    open_join_request,
    parse_invite_link,
)
from cove.protocol.invites.intake import INTAKE_EXPORTER_LABEL
from tests.integration.test_client_invites import A1, Q1, Cove, organizer, relay_db
from tests.support.links import organizer_code
from tests.support.relay_process import RelayProcess

pytestmark = pytest.mark.integration


def moderator(
    tmp_path: Path, relay: RelayProcess, capsys: pytest.CaptureFixture[str], org: Cove,
    gid: str, handle: str,
) -> Cove:  # fmt: skip
    who = Cove(tmp_path / handle, capsys)
    who.ok("init", "--relay", relay.url, "--handle", handle, "--invite", organizer_code(relay))
    org.ok("group", "add", gid, handle)
    who.ok("sync")
    org.ok("group", "role", gid, handle, "moderator")
    who.ok("sync")
    return who


def queued(relay: RelayProcess, link_id: bytes) -> list[tuple[bytes, bytes]]:
    with relay_db(relay) as db:
        return db.execute(
            "SELECT request_id, sealed FROM join_requests WHERE link_id = ? ORDER BY position",
            (link_id,),
        ).fetchall()


async def _state(home: Path, gid: bytes) -> tuple[bool, dict[int, object], JoinSettings | None]:
    c = await CoveClient.open(home, "pw")
    try:
        async with c.store.transaction() as txn:
            in_mods = await c.states.is_active(txn, moderators_group_id(gid))
            pairs = await S.intake_pairs(txn, gid)
            settings = None
            if await c.states.is_active(txn, gid):
                _, group = await c.states.load(txn, gid)
                settings = JoinSettings.from_extensions(group.extensions)
        return in_mods, dict(pairs), settings
    finally:
        await c.close()


def state(home: Path, gid: str) -> tuple[bool, dict[int, object], JoinSettings | None]:
    return asyncio.run(_state(home, bytes.fromhex(gid)))


async def derive_stale(home: Path, gid: bytes) -> IntakeKeyPair | None:
    c = await CoveClient.open(home, "pw")
    try:
        async with c.store.transaction() as txn:
            _, mods = await c.states.load(txn, moderators_group_id(gid))
        value = mods.export_secret(INTAKE_EXPORTER_LABEL, intake_exporter_context(gid, 2), 32)
        return derive_intake_key(value, 2)
    finally:
        await c.close()


def generation(settings: JoinSettings | None) -> int:
    assert settings is not None and settings.intake is not None
    return settings.intake.generation


def test_a_moderator_made_later_is_added_and_approves(
    tmp_path: Path, links_relay: RelayProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    org, gid = organizer(tmp_path, links_relay, capsys, "org-promote")
    made = org.ok("invite", "create", gid, "--question", Q1)  # the moderators' group: org alone
    ana = Cove(tmp_path / "ana", capsys)
    ana.ok("join", made["url"], "--answer", A1, "--handle", "ana")  # before kim is moderator
    kim = moderator(tmp_path, links_relay, capsys, org, gid, "kimlater")
    in_mods, pairs, settings = state(tmp_path / "kimlater", gid)
    assert in_mods and set(pairs) == {1} and generation(settings) == 1
    assert "moderators of Fatigue Fridays" in [g["name"] for g in kim.ok("groups")]
    # she holds the link (secret included) and reads and approves the waiting request
    assert [x["url"] for x in kim.ok("invite", "list", gid)["links"]] == [made["url"]]
    queue = kim.ok("requests", gid)
    assert queue["refused"] == []
    [req] = queue["requests"]
    assert (req["handle"], req["answers"]) == ("ana", [{"question": Q1, "answer": A1}])
    assert kim.ok("approve", gid, req["id"]) == {"ok": True, "approved": "ana"}
    assert ana.ok("join", "--status")["requests"][0]["state"] == "joined"
    # the replay log is shared: the organizer's client refuses the same request again
    assert org.ok("requests", gid)["requests"] == []
    # adding a moderator does not rotate the key
    assert generation(state(tmp_path / "org-promote", gid)[2]) == 1


def test_a_demoted_moderator_opens_nothing_sealed_after_the_change(
    tmp_path: Path, links_relay: RelayProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    org, gid = organizer(tmp_path, links_relay, capsys, "org-demote2")
    kim = moderator(tmp_path, links_relay, capsys, org, gid, "kimdemo")
    made = org.ok("invite", "create", gid, "--question", Q1)
    hers = kim.ok("invite", "create", gid, "--question", Q1)
    org_link = parse_invite_link(made["url"])
    assert org.ok("join", made["url"], "--preview")["intake_generation"] == 1
    # a request sealed to generation 1, before the change
    lea = Cove(tmp_path / "lea", capsys)
    lea.ok("join", made["url"], "--answer", A1, "--handle", "lea")
    [(_, before)] = queued(links_relay, org_link.link_id)
    assert state(tmp_path / "kimdemo", gid)[0] is True

    org.ok("group", "role", gid, "kimdemo", "member")

    _, pairs, settings = state(tmp_path / "org-demote2", gid)
    assert generation(settings) == 2 and set(pairs) == {1, 2}
    assert settings is not None and [e.link_id for e in settings.links] == [org_link.link_id]
    # the preview was re-sealed: a newcomer's preview names the new generation
    assert (
        Cove(tmp_path / "x", capsys).ok("join", made["url"], "--preview")["intake_generation"] == 2
    )
    # her link is gone from the group and revoked at the relay
    code, doc, _ = Cove(tmp_path / "y", capsys)("join", hers["url"], "--preview")
    assert (code, doc["message"]) == (
        1, "this invite link was revoked; ask the group's organizer for a new link",
    ), doc  # fmt: skip
    # she syncs: she is out of the moderators' group, and may not read the queue
    kim.ok("sync")
    _, kim_pairs, _ = state(tmp_path / "kimdemo", gid)
    assert set(kim_pairs) == {1}
    mods = [g for g in org.ok("groups") if g["name"] == "moderators of Fatigue Fridays"]
    assert [g["members"] for g in mods] == [1]
    # the relay no longer serves her the moderators' group; what her stale copy of it
    # derives for generation 2 is not the published key
    stale = asyncio.run(derive_stale(tmp_path / "kimdemo", bytes.fromhex(gid)))
    assert settings.intake is not None and stale is not None
    assert stale.public_key != settings.intake.public_key
    kim_pairs[2] = stale
    code, doc, _ = kim("requests", gid)
    assert (code, doc["error"]) == (5, "NoPermission"), doc
    # a request made after the change: the remaining moderator reads both
    nell = Cove(tmp_path / "nell", capsys)
    nell.ok("join", made["url"], "--answer", "after", "--handle", "nell")
    [(_, first), (_, after)] = queued(links_relay, org_link.link_id)
    assert first == before and after[11:15] == (2).to_bytes(4, "big")
    queue = org.ok("requests", gid)
    assert queue["refused"] == []
    assert sorted(r["handle"] for r in queue["requests"]) == ["lea", "nell"]
    # under her client, with every key she kept: the new request does not open
    with pytest.raises(InviteRefused) as caught:
        open_join_request(
            after, kim_pairs, group_id=bytes.fromhex(gid), settings=settings, questions=(Q1,)
        )  # type: ignore[arg-type]
    assert caught.value.rule == "invite.request.undecryptable"
    assert (
        str(caught.value)
        == "[invite.request.undecryptable] the join request does not open with the moderators' key"
    )


def test_a_request_sealed_to_an_unpublished_generation_is_refused(
    tmp_path: Path, links_relay: RelayProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    org, gid = organizer(tmp_path, links_relay, capsys, "org-unpub")
    made = org.ok("invite", "create", gid, "--question", Q1)
    Cove(tmp_path / "ria", capsys).ok("join", made["url"], "--answer", A1, "--handle", "ria")
    with relay_db(links_relay) as db:
        row = db.execute(
            "SELECT request_id, link_id, position, device_id, pickup_id, pickup_verifier,"
            " received_at, sealed FROM join_requests WHERE link_id = ?",
            (parse_invite_link(made["url"]).link_id,),
        ).fetchone()
        sealed = row[7][:11] + (9).to_bytes(4, "big") + row[7][15:]
        db.execute(
            "INSERT INTO join_requests VALUES (?,?,?,?,?,?,?,?)",
            (b"\x09" * 16, row[1], row[2] + 1, row[3], b"\x08" * 16, row[5], row[6], sealed),
        )
    queue = org.ok("requests", gid)
    assert [r["handle"] for r in queue["requests"]] == ["ria"]
    assert [(r["id"], r["rule"], r["message"]) for r in queue["refused"]] == [(
        "09" * 16, "invite.request.unpublished_generation",
        "the join request is sealed to moderators' key generation 9, which this group's "
        "moderators never published (the current one is 1)",
    )]  # fmt: skip


def test_a_removed_or_banned_moderator_is_followed(
    tmp_path: Path, links_relay: RelayProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    org, gid = organizer(tmp_path, links_relay, capsys, "org-remove")
    kim = moderator(tmp_path, links_relay, capsys, org, gid, "kimrm")
    ben = moderator(tmp_path, links_relay, capsys, org, gid, "benban")
    lou = moderator(tmp_path, links_relay, capsys, org, gid, "louleave")
    org.ok("invite", "create", gid, "--question", Q1)
    for who in (kim, ben, lou):
        who.ok("sync")
        assert state(who.home, gid)[0] is True
    org.ok("group", "remove", gid, "kimrm")
    assert generation(state(tmp_path / "org-remove", gid)[2]) == 2
    org.ok("group", "ban", gid, "benban")
    assert generation(state(tmp_path / "org-remove", gid)[2]) == 3
    lou.ok("sync")
    assert set(state(lou.home, gid)[1]) == {1, 2, 3}  # she was told each new generation
    # a request after both changes, sealed to generation 3: the remaining moderator reads it
    made = org.ok("invite", "list", gid)["links"][0]
    assert (
        Cove(tmp_path / "z", capsys).ok("join", made["url"], "--preview")["intake_generation"] == 3
    )
    Cove(tmp_path / "ida", capsys).ok("join", made["url"], "--answer", A1, "--handle", "ida")
    queue = lou.ok("requests", gid)
    assert (queue["refused"], [r["handle"] for r in queue["requests"]]) == ([], ["ida"])
    mods = [g for g in org.ok("groups") if g["name"] == "moderators of Fatigue Fridays"]
    assert [g["members"] for g in mods] == [2]  # the organizer and lou


def test_a_second_owner_demotes_a_moderator_she_did_not_add(
    tmp_path: Path, links_relay: RelayProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every moderator owns the moderators' group, so an owner who did not create it
    takes a demoted moderator out of it (the relay's table of that group keeps its one
    owner, the creator, and still lists her: she reads nothing new)."""
    org, gid = organizer(tmp_path, links_relay, capsys, "org-two-owners")
    ola = moderator(tmp_path, links_relay, capsys, org, gid, "olaowner")
    org.ok("group", "role", gid, "olaowner", "owner")
    kim = moderator(tmp_path, links_relay, capsys, org, gid, "kimtwo")
    made = org.ok("invite", "create", gid, "--question", Q1)
    for who in (ola, kim):
        who.ok("sync")
        assert state(who.home, gid)[0] is True
    ola.ok("group", "role", gid, "kimtwo", "member")
    _, ola_pairs, settings = state(ola.home, gid)
    assert generation(settings) == 2 and set(ola_pairs) == {1, 2}
    mods = [g for g in ola.ok("groups") if g["name"] == "moderators of Fatigue Fridays"]
    assert [g["members"] for g in mods] == [2]
    # the organizer learns the new key through the moderators' group; her preview
    # is re-sealed by her own client at its next sync
    org.ok("sync")
    assert set(state(org.home, gid)[1]) == {1, 2}
    assert (
        Cove(tmp_path / "p", capsys).ok("join", made["url"], "--preview")["intake_generation"] == 2
    )
    Cove(tmp_path / "una", capsys).ok("join", made["url"], "--answer", A1, "--handle", "una")
    [(_, sealed)] = queued(links_relay, parse_invite_link(made["url"]).link_id)
    assert sealed[11:15] == (2).to_bytes(4, "big")
    assert [r["handle"] for r in ola.ok("requests", gid)["requests"]] == ["una"]
    kim.ok("sync")
    _, kim_pairs, _ = state(kim.home, gid)
    assert set(kim_pairs) == {1}
    with pytest.raises(InviteRefused) as caught:
        open_join_request(
            sealed, kim_pairs, group_id=bytes.fromhex(gid), settings=settings, questions=(Q1,)
        )  # type: ignore[arg-type]
    assert caught.value.rule == "invite.request.undecryptable"
