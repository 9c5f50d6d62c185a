"""Builders for the invite-link integration tests (``tests/integration/test_relay_links*.py``):
real links, previews, join requests and sealed blobs from ``cove.protocol.invites``, and a
relay that registers only with an invite code or a link."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from cove.protocol.codec import Writer
from cove.protocol.crypto import OsRandom
from cove.protocol.invites import (
    HistoryLevel,
    InviteLink,
    LinkMode,
    LinkPreview,
    PendingRequest,
    derive_intake_key,
    make_join_request,
    new_invite_link,
    seal_preview,
)
from cove.protocol.wire import envelopes as E
from cove.protocol.wire import link_envelopes as K
from cove.protocol.wire.auth import registration_signing_input
from cove.protocol.wire.codes import ErrorCode
from cove.server.domain.links import pickup_verifier
from tests.integration.conftest import SHARED_LIMITS
from tests.support.relay_process import (
    CONTENT_COMMIT,
    CallError,
    RelayProcess,
    TestClient,
    raw_private,
    unique_handle,
)

INTAKE = derive_intake_key(bytes(32), 1)
WEEK = 7 * 86400


def serve_links_relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelayProcess]:
    """A relay that registers only with an invite code (or a link), for a module fixture."""
    data: Path = tmp_path_factory.mktemp("links")
    with RelayProcess.start(data, registration="invite", limits=SHARED_LIMITS) as proc:
        yield proc


def organizer_code(relay: RelayProcess) -> str:
    return relay.cli("invite", "create", "--uses", "1").strip().splitlines()[-1]


async def organizer(http: aiohttp.ClientSession, relay: RelayProcess) -> TestClient:
    return await TestClient.register(http, relay.url, invite=organizer_code(relay))


@dataclass
class Made:
    link: InviteLink
    preview: LinkPreview
    sealed_preview: bytes
    info: K.LinkInfo

    @property
    def capability(self) -> bytes:
        return self.link.keys().capability


def make_link(
    relay: RelayProcess, org: TestClient, gid: bytes, *, mode: LinkMode = LinkMode.APPROVAL,
    max_uses: int = 3, texts: dict[str, str] | None = None,
) -> tuple[InviteLink, LinkPreview, bytes]:  # fmt: skip
    texts = texts or {}
    link = new_invite_link(relay.url, org.handle, org.identity_key, OsRandom())
    now = int(time.time())
    preview = LinkPreview(
        group_id=gid, link_id=link.link_id, mode=mode,
        group_name=texts.get("name", "Living with lupus"),
        description=texts.get("description", "A place to share what helps."),
        rules_version=1, rules_salt=bytes(16), rules_text=texts.get("rules", "Be kind."),
        questions=(texts.get("question", "How did you hear about us?"),)
        if mode == LinkMode.APPROVAL else (),
        history=HistoryLevel.TITLES, welcome_message=texts.get("welcome", "Welcome!"),
        inviter_handle=org.handle, inviter_identity_key=org.identity_key,
        intake=INTAKE.public if mode == LinkMode.APPROVAL else None,
        max_uses=max_uses, expires_at=now + WEEK, created_at=now,
    )  # fmt: skip
    return link, preview, seal_preview(preview, link, raw_private(org.identity), OsRandom())


async def create(relay: RelayProcess, org: TestClient, gid: bytes, **kw: object) -> Made:
    mode = kw.get("mode", LinkMode.APPROVAL)
    link, preview, sealed = make_link(relay, org, gid, **kw)  # type: ignore[arg-type]
    info = await org.call("create_link", K.LinkCreateRequest(
        link_id=link.link_id, capability_verifier=link.keys().capability_verifier,
        mode="approval" if mode == LinkMode.APPROVAL else "open",
        expires_at=preview.expires_at, max_uses=preview.max_uses, preview=sealed,
    ), group_id=gid)  # fmt: skip
    assert isinstance(info, K.LinkInfo)
    return Made(link, preview, sealed, info)


async def register_with_link(
    http: aiohttp.ClientSession, relay: RelayProcess, made: Made, *, capability: bytes | None = None
) -> TestClient:
    client = TestClient(http, relay.url, unique_handle("nia"))
    health = await client.call("health")
    assert isinstance(health, E.Health)
    signed = registration_signing_input(
        health.relay_id, client.handle, client.identity_key, client.device_key
    )
    resp = await client.call("register", E.RegisterRequest(
        handle=client.handle, identity_key=client.identity_key, device_key=client.device_key,
        identity_sig=client.identity.sign(signed), device_sig=client.device.sign(signed),
        link_id=made.link.link_id, link_capability=capability or made.capability,
    ))  # fmt: skip
    assert isinstance(resp, E.RegisterResponse)
    client.account_id, client.device_id = resp.account_id, resp.device_id
    await client.login()
    return client


def join_request(made: Made, who: TestClient, answer: str = "My rheumatologist.") -> PendingRequest:
    return make_join_request(
        made.preview, made.link, handle=who.handle, identity_private=raw_private(who.identity),
        key_package=who.key_package(), answers=(answer,), now=int(time.time()), rng=OsRandom(),
    )  # fmt: skip


def post_body(made: Made, pending: PendingRequest) -> tuple[K.JoinRequestPost, bytes, bytes]:
    pickup_id, token = secrets.token_bytes(16), secrets.token_bytes(32)
    body = K.JoinRequestPost(
        capability=made.capability, sealed=pending.sealed, pickup_id=pickup_id,
        pickup_verifier=pickup_verifier(token),
    )  # fmt: skip
    return body, pickup_id, token


def external_commit(group_id: bytes, epoch: int = 0) -> bytes:
    """A PublicMessage commit from a ``new_member_commit`` sender (what the relay peeks)."""
    w = Writer()
    w.uint16(1)
    w.uint16(1)  # mls_public_message
    w.opaque(group_id)
    w.uint64(epoch)
    w.uint8(4)  # sender: new_member_commit
    w.opaque(b"")
    w.uint8(CONTENT_COMMIT)
    w.fixed(secrets.token_bytes(80))
    return w.getvalue()


def set_expiry(relay: RelayProcess, link_id: bytes, expires_at: int) -> None:
    """Move a link's expiry in the relay's own database (time passing, without waiting)."""
    db = sqlite3.connect(relay.data / "relay.sqlite3", timeout=10)
    try:
        db.execute("UPDATE links SET expires_at = ? WHERE link_id = ?", (expires_at, link_id))
        db.commit()
    finally:
        db.close()


async def expect(code: ErrorCode, message: str | None, coro: object) -> CallError:
    try:
        await coro  # type: ignore[misc]
    except CallError as exc:
        assert exc.code == code, exc
        assert exc.status == code.status
        if message is not None:
            assert exc.body.message == message, exc.body.message
        return exc
    raise AssertionError(f"expected {code}")


EXPIRED = "this invite link has expired"
USED_UP = "this invite link has been used the maximum number of times"
REVOKED = "this invite link was revoked by the group's moderators"


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]
