"""The relay validates every KeyPackage at upload (defence in depth, check E4):
it must decode, use a suite Cove builds, pass RFC 9420 §10.1 validation (both
signatures, lifetime, capabilities, the Cove credential) and carry the uploading
device's own Cove identity. Anything else is ``400 invalid_mls_message`` and
nothing of the upload is stored."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import replace

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cove.protocol.crypto import OsRandom, suite_for
from cove.protocol.crypto.labels import sign_with_label
from cove.protocol.mls.credentials import Credential
from cove.protocol.mls.framing import MLSMessage
from cove.protocol.mls.key_package import KeyPackage
from cove.protocol.mls.key_package_bundle import KeyPackageBundle
from cove.protocol.mls.validation import KEY_PACKAGE_LABEL
from cove.protocol.wire import envelopes as E
from cove.protocol.wire.auth import add_device_signing_input
from cove.protocol.wire.codes import ErrorCode
from tests.support.relay_process import (
    RelayProcess,
    TestClient,
    fake_private_message,
    fake_welcome,
    make_key_package,
    new_group_id,
    raw_private,
)

pytestmark = pytest.mark.integration

DAY = 24 * 3600


def _kp(data: bytes) -> KeyPackage:
    body = MLSMessage.from_bytes(data).body
    assert isinstance(body, KeyPackage)
    return body


def _resign(kp: KeyPackage, signer: TestClient) -> bytes:
    """``kp`` with a fresh, valid KeyPackage signature by ``signer``'s device."""
    unsigned = replace(kp, signature=b"")
    sig = sign_with_label(suite_for(1), raw_private(signer.device), KEY_PACKAGE_LABEL,
                          unsigned.tbs())  # fmt: skip
    return MLSMessage(replace(kp, signature=sig)).to_bytes()


def _flip_last(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


async def _second_device(first: TestClient) -> TestClient:
    device = Ed25519PrivateKey.generate()
    second = TestClient(first.http, first.base, first.handle, identity=first.identity,
                        device=device, relay_id=first.relay_id)  # fmt: skip
    signed = add_device_signing_input(first.relay_id, first.account_id, second.device_key)
    info = await first.call("add_device", E.AddDeviceRequest(
        device_key=second.device_key, identity_sig=first.identity.sign(signed),
        device_sig=device.sign(signed)))  # fmt: skip
    assert isinstance(info, E.DeviceInfo)
    second.account_id, second.device_id = first.account_id, info.device_id
    await second.login()
    return second


class People:
    """The uploader (bob), a second device of bob's account and another account."""

    def __init__(self, bob: TestClient, bob2: TestClient, carol: TestClient) -> None:
        self.bob, self.bob2, self.carol = bob, bob2, carol


def _garbage(p: People) -> bytes:
    return secrets.token_bytes(300)


def _welcome_header(p: People) -> bytes:
    return fake_welcome()  # a Welcome's header, then noise


def _private_message(p: People) -> bytes:
    return fake_private_message(new_group_id())  # decodes, but as a PrivateMessage


def _truncated(p: People) -> bytes:
    return p.bob.key_package()[:-40]


def _trailing_bytes(p: People) -> bytes:
    return p.bob.key_package() + b"\x00"


def _bad_kp_signature(p: People) -> bytes:
    data = p.bob.key_package()
    kp = _kp(data)
    return MLSMessage(replace(kp, signature=_flip_last(kp.signature))).to_bytes()


def _bad_leaf_signature(p: People) -> bytes:
    kp = _kp(p.bob.key_package())
    leaf = replace(kp.leaf_node, signature=_flip_last(kp.leaf_node.signature))
    return _resign(replace(kp, leaf_node=leaf), p.bob)  # the outer signature is good


def _unsupported_suite(p: People) -> bytes:
    data = p.bob.key_package()
    # MLSMessage: version(2) wire_format(2) | KeyPackage: version(2) cipher_suite(2)
    assert data[6:8] == b"\x00\x01"
    return data[:6] + b"\x00\x08" + data[8:]  # no suite 8 (1-7 and 0xF001 are built)


def _other_device(p: People) -> bytes:
    return p.bob2.key_package()


def _other_account(p: People) -> bytes:
    return p.carol.key_package()


def _other_identity_key(p: People) -> bytes:
    # bob's handle and device key, vouched for by an identity key that is not bob's
    return make_key_package(p.bob.handle, Ed25519PrivateKey.generate(), p.bob.device)


def _other_handle(p: People) -> bytes:
    return make_key_package(p.carol.handle, p.bob.identity, p.bob.device)


def _not_a_cove_credential(p: People) -> bytes:
    bundle = KeyPackageBundle.create(1, Credential.basic(p.bob.handle.encode()), OsRandom(),
                                     now=int(time.time()),
                                     signature_private=raw_private(p.bob.device))  # fmt: skip
    return bundle.key_package_bytes()


def _expired(p: People) -> bytes:
    return p.bob.key_package(now=int(time.time()) - 10 * DAY, lifetime=DAY)


def _not_yet_valid(p: People) -> bytes:
    return p.bob.key_package(now=int(time.time()) + 2 * DAY)


REFUSED: dict[str, Callable[[People], bytes]] = {
    "garbage": _garbage,
    "Welcome header": _welcome_header,
    "wrong wire format": _private_message,
    "truncated": _truncated,
    "trailing bytes": _trailing_bytes,
    "bad KeyPackage signature": _bad_kp_signature,
    "bad leaf signature": _bad_leaf_signature,
    "unsupported suite": _unsupported_suite,
    "another device of the account": _other_device,
    "another account": _other_account,
    "another identity key": _other_identity_key,
    "another handle": _other_handle,
    "not a Cove credential": _not_a_cove_credential,
    "expired": _expired,
    "not yet valid": _not_yet_valid,
}


async def _people(http: aiohttp.ClientSession, relay: RelayProcess) -> People:
    bob = await TestClient.register(http, relay.url)
    carol = await TestClient.register(http, relay.url)
    return People(bob, await _second_device(bob), carol)


@pytest.mark.parametrize("case", list(REFUSED))
def test_invalid_key_packages_are_refused_and_nothing_is_stored(
    relay: RelayProcess, case: str
) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            p = await _people(http, relay)
            bob = p.bob
            before = await bob.call(
                "upload_key_packages", E.KeyPackageUpload(key_packages=(bob.key_package(),))
            )
            assert before == E.KeyPackageCount(one_time=1, last_resort=False)
            bad = REFUSED[case](p)
            good = bob.key_package()
            for upload in (
                E.KeyPackageUpload(key_packages=(bad,)),
                E.KeyPackageUpload(key_packages=(good, bad)),  # one bad one spoils the upload
                E.KeyPackageUpload(key_packages=(), last_resort=bad),
                E.KeyPackageUpload(key_packages=(good,), last_resort=bad),
            ):
                err = await bob.expect_error(
                    ErrorCode.INVALID_MLS_MESSAGE, "upload_key_packages", upload
                )
                assert err.status == 400
                assert await bob.call("count_key_packages") == before
            # what the relay hands out is still the one valid KeyPackage
            claim = await p.carol.call("claim_key_packages", E.ClaimRequest(handle=bob.handle))
            assert isinstance(claim, E.ClaimResponse)
            assert [kp.device_id for kp in claim.key_packages] == [bob.device_id]

    asyncio.run(main())


def test_valid_key_packages_of_each_device_are_accepted(relay: RelayProcess) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            p = await _people(http, relay)
            for c in (p.bob, p.bob2, p.carol):
                count = await c.call("upload_key_packages", E.KeyPackageUpload(
                    key_packages=tuple(c.key_package() for _ in range(3)),
                    last_resort=c.key_package(),
                ))  # fmt: skip
                assert count == E.KeyPackageCount(one_time=3, last_resort=True)
            # valid for a little longer than the clock skew allowance on either side
            early = p.bob.key_package(now=int(time.time()) + 1800)
            late = p.bob.key_package(now=int(time.time()) - DAY, lifetime=DAY + 600)
            resigned = _resign(_kp(p.bob.key_package()), p.bob)  # the tampering helper is sound
            count = await p.bob.call(
                "upload_key_packages", E.KeyPackageUpload(key_packages=(early, late, resigned))
            )
            assert count == E.KeyPackageCount(one_time=6, last_resort=True)

    asyncio.run(main())
