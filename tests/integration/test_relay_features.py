"""Blobs with quotas, retention purge, account deletion, backup and status,
TLS, and what the relay writes to its log."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import secrets
import sqlite3
import ssl
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cove.protocol.wire import envelopes as E
from cove.protocol.wire.codes import ErrorCode
from tests.support.relay_process import (
    CONTENT_COMMIT,
    RelayProcess,
    TestClient,
    fake_private_message,
    fake_welcome,
    new_group_id,
)

pytestmark = pytest.mark.integration


def test_blobs_with_size_limit_and_group_quota(tmp_path: Path) -> None:
    limits = {"blob": 60_000, "group_blob_quota": 100_000}
    with RelayProcess.start(tmp_path, registration="open", limits=limits) as relay:

        async def main() -> None:
            async with aiohttp.ClientSession() as http:
                alice, bob = [await TestClient.register(http, relay.url) for _ in range(2)]
                gid, other = new_group_id(), new_group_id()
                await alice.call("create_group", E.CreateGroupRequest(group_id=gid))
                await alice.call("create_group", E.CreateGroupRequest(group_id=other))
                data = secrets.token_bytes(50_000)
                ref = await alice.call("upload_blob", data, group_id=gid)
                assert isinstance(ref, E.BlobRef) and ref.size == len(data)
                assert await alice.call("download_blob", group_id=gid, blob_id=ref.blob_id) == data
                # scoped to its group
                await alice.expect_error(ErrorCode.NOT_FOUND, "download_blob", group_id=other,
                                         blob_id=ref.blob_id)  # fmt: skip
                await bob.expect_error(ErrorCode.NOT_FOUND, "download_blob", group_id=gid,
                                       blob_id=ref.blob_id)  # fmt: skip
                await alice.expect_error(ErrorCode.BODY_TOO_LARGE, "upload_blob",
                                         b"x" * 60_001, group_id=gid)  # fmt: skip
                await alice.expect_error(ErrorCode.QUOTA_EXCEEDED, "upload_blob",
                                         b"y" * 50_001, group_id=gid)  # fmt: skip
                ref2 = await alice.call("upload_blob", b"z" * 50_000, group_id=gid)
                assert isinstance(ref2, E.BlobRef)
                await alice.expect_error(ErrorCode.QUOTA_EXCEEDED, "upload_blob", b"1",
                                         group_id=gid)  # fmt: skip
                assert isinstance(await alice.call("upload_blob", b"1", group_id=other), E.BlobRef)
                status, _ = await alice.raw("POST", f"/v1/groups/{gid.hex()}/blobs", b"a",
                                            "application/msgpack")  # fmt: skip
                assert status == 415

        asyncio.run(main())


def backdate(db_path: Path, seconds: int) -> None:
    """Move every stored time of the relay's database ``seconds`` into the past."""
    with contextlib.closing(sqlite3.connect(db_path)) as db, db:
        db.execute("PRAGMA secure_delete = ON")  # rewritten rows leave no old copies
        for table, column in (("messages", "received_at"), ("blobs", "created_at"),
                              ("inbox", "received_at")):  # fmt: skip
            db.execute(f"UPDATE {table} SET {column} = {column} - ?", (seconds,))


def test_retention_purges_old_messages(tmp_path: Path) -> None:
    canary = b"CANARY-" + secrets.token_hex(16).encode()
    with RelayProcess.start(tmp_path, registration="open") as relay:

        async def main() -> None:
            async with aiohttp.ClientSession() as http:
                alice, bob = [await TestClient.register(http, relay.url) for _ in range(2)]
                gid, keep = new_group_id(), new_group_id()
                for g in (gid, keep):
                    await alice.call("create_group", E.CreateGroupRequest(group_id=g))
                await bob.call(
                    "upload_key_packages", E.KeyPackageUpload(key_packages=(bob.key_package(),))
                )
                await alice.post(
                    gid,
                    fake_private_message(gid, CONTENT_COMMIT),
                    position=0,
                    welcome=fake_welcome(),
                    welcome_devices=(bob.device_id,),
                )
                await bob.expect_error(
                    ErrorCode.FORBIDDEN,
                    "set_retention",
                    E.RetentionRequest(max_age_seconds=1),
                    group_id=gid,
                )
                await alice.call("set_retention", E.RetentionRequest(max_age_seconds=1),
                                 group_id=gid)  # fmt: skip
                await alice.post(gid, fake_private_message(gid, payload=canary))
                await alice.post(keep, fake_private_message(keep))
                blob = await alice.call("upload_blob", b"old attachment " + canary, group_id=gid)
                assert isinstance(blob, E.BlobRef)
                page = await alice.call("fetch_messages", group_id=gid)
                assert isinstance(page, E.MessagePage) and len(page.messages) == 2
                # An hour passes, as the relay sees it: with the relay stopped its stored
                # times move back an hour (the relay reads the system clock); then the
                # purge runs once, and the relay serves again on its port.
                port = relay.port
                await asyncio.to_thread(relay.stop)
                backdate(relay.data / "relay.sqlite3", 3600)
                assert "purged 4 items" in relay.cli("purge")  # 2 messages, 1 blob, 1 Welcome
                await asyncio.to_thread(relay.serve, port)
                page = await alice.call("fetch_messages", group_id=gid)
                assert isinstance(page, E.MessagePage) and page.messages == ()
                await alice.expect_error(ErrorCode.NOT_FOUND, "download_blob", group_id=gid,
                                         blob_id=blob.blob_id)  # fmt: skip
                assert await bob.call("fetch_inbox") == E.InboxPage(entries=())
                # sequence numbers go on; the handshake position is kept
                info = await alice.call("get_group", group_id=gid)
                assert isinstance(info, E.GroupInfoResponse)
                assert (info.head_seq, info.handshake_seq) == (2, 1)
                assert (await alice.post(gid, fake_private_message(gid))).seq == 3
                # the group with the relay default (365 days) keeps its message
                page = await alice.call("fetch_messages", group_id=keep)
                assert isinstance(page, E.MessagePage) and len(page.messages) == 1

        asyncio.run(main())
        # remanence: the purged bytes are gone from the database file and its WAL
        # (secure_delete overwrites them; the purge truncates the WAL)
        for path in tmp_path.glob("relay.sqlite3*"):
            assert canary not in path.read_bytes(), path.name


def test_account_deletion_purges_everything_it_owns(tmp_path: Path) -> None:
    with RelayProcess.start(tmp_path, registration="open") as relay:
        ids: dict[str, bytes] = {}

        async def main() -> None:
            async with aiohttp.ClientSession() as http:
                alice, bob = [await TestClient.register(http, relay.url) for _ in range(2)]
                solo, shared = new_group_id(), new_group_id()
                await bob.call("create_group", E.CreateGroupRequest(group_id=solo))
                await bob.post(solo, fake_private_message(solo))
                await bob.call("upload_blob", b"bob's file", group_id=solo)
                await alice.call("create_group", E.CreateGroupRequest(group_id=shared))
                await bob.call(
                    "upload_key_packages",
                    E.KeyPackageUpload(
                        key_packages=(bob.key_package(),), last_resort=bob.key_package()
                    ),
                )
                await alice.post(shared, fake_private_message(shared, CONTENT_COMMIT),
                                 position=0, welcome=fake_welcome(),
                                 welcome_devices=(bob.device_id,))  # fmt: skip
                await alice.call("ban", E.BanRequest(account_id=bob.account_id, banned=False),
                                 group_id=shared)  # fmt: skip
                ids.update(bob=bob.account_id, device=bob.device_id, solo=solo, shared=shared)
                await bob.call("delete_account")
                await bob.expect_error(ErrorCode.UNAUTHORIZED, "whoami")
                await alice.expect_error(ErrorCode.NOT_FOUND, "claim_key_packages",
                                         E.ClaimRequest(handle=bob.handle))  # fmt: skip
                info = await alice.call("get_group", group_id=shared)
                assert isinstance(info, E.GroupInfoResponse)
                assert [m.account_id for m in info.members] == [alice.account_id]
                # the handle is free again
                await TestClient.register(http, relay.url, bob.handle)

        asyncio.run(main())
        relay.stop()
        db = sqlite3.connect(tmp_path / "relay.sqlite3")
        try:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            for table in tables:
                for row in db.execute(f"SELECT * FROM {table}"):
                    for value in row:
                        if isinstance(value, bytes):
                            for key in ("bob", "device", "solo"):
                                assert ids[key] not in value, (table, key)
            assert db.execute("SELECT COUNT(*) FROM groups WHERE group_id = ?",
                              (ids["solo"],)).fetchone() == (0,)  # fmt: skip
            assert db.execute("SELECT COUNT(*) FROM blobs").fetchone() == (0,)
        finally:
            db.close()


@pytest.mark.slow
def test_backup_while_serving_and_status(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with RelayProcess.start(data, registration="open") as relay:

        async def main() -> None:
            async with aiohttp.ClientSession() as http:
                alice = await TestClient.register(http, relay.url)
                gid = new_group_id()
                await alice.call("create_group", E.CreateGroupRequest(group_id=gid))
                for _ in range(10):
                    await alice.post(gid, fake_private_message(gid))

        asyncio.run(main())
        out = relay.cli("backup", "--to", str(tmp_path / "copy.sqlite3"))
        assert "backup written" in out
        status = relay.cli("status")
        assert "messages: 10" in status and "accounts: 1" in status
    db = sqlite3.connect(tmp_path / "copy.sqlite3")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT COUNT(*) FROM messages").fetchone() == (10,)
    finally:
        db.close()
    # restore = put the copy in place of relay.sqlite3 in a data dir, then serve
    restored = tmp_path / "restored"
    relay2 = RelayProcess.init(restored, registration="open")
    (restored / "relay.sqlite3").unlink()
    (tmp_path / "copy.sqlite3").rename(restored / "relay.sqlite3")
    relay2.serve()
    try:
        assert "messages: 10" in relay2.cli("status")
    finally:
        relay2.stop()


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_path, key_path


def test_tls_with_certificate_files(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server = {"tls_cert": str(cert), "tls_key": str(key)}
    with RelayProcess.start(tmp_path / "data", registration="open", server=server) as relay:
        assert relay.url.startswith("https://127.0.0.1:")

        async def main() -> None:
            ctx = ssl.create_default_context(cafile=str(cert))
            conn = aiohttp.TCPConnector(ssl=ctx)
            async with aiohttp.ClientSession(connector=conn) as http:
                alice = await TestClient.register(http, relay.url)
                assert isinstance(await alice.call("whoami"), E.AccountInfo)

        asyncio.run(main())


def test_log_has_no_addresses_tokens_or_payloads(relay: RelayProcess) -> None:
    canary = b"CANARY-" + secrets.token_hex(16).encode()

    async def main() -> str:
        async with aiohttp.ClientSession() as http:
            alice = await TestClient.register(http, relay.url)
            gid = new_group_id()
            await alice.call("create_group", E.CreateGroupRequest(group_id=gid))
            await alice.post(gid, fake_private_message(gid, payload=canary))
            await alice.raw("POST", f"/v1/groups/{gid.hex()}/messages", b"\xc1" + canary)
            await alice.raw("GET", "/v1/nothing?" + canary.decode())
            return alice.token

    token = asyncio.run(main())
    log = relay.log()
    assert "access" in log  # the access log is on ...
    for secret in ("127.0.0.1", token, canary.decode(), canary.hex()):
        assert secret not in log  # ... but carries none of these
