"""KeyPackages at the relay: upload (each one checked in full), count, claim.

Clients validate every KeyPackage they use; the relay's check at upload is
defence in depth, so a member cannot park garbage or someone else's
KeyPackage for others to claim (``docs/server/api.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cove.protocol.crypto import suite_for
from cove.protocol.errors import CryptoError, DecodeError, UnsupportedCipherSuite, ValidationError
from cove.protocol.identity import CoveCredentialValidator, CoveIdentity
from cove.protocol.mls.credentials import Credential
from cove.protocol.mls.framing import MLSMessage
from cove.protocol.mls.key_package import KeyPackage
from cove.protocol.mls.validation import validate_key_package
from cove.protocol.wire import envelopes as E
from cove.protocol.wire.codes import ErrorCode

from ..errors import InvalidMLSMessage, NotFound, RelayError, Unauthorized
from ..storage.base import AccountRecord, DeviceRecord

if TYPE_CHECKING:
    from .relay import Caller, Relay


class _CredentialCache:
    """:class:`CoveCredentialValidator`, verifying each distinct credential once
    (an upload's KeyPackages all carry the same one)."""

    def __init__(self) -> None:
        self._inner = CoveCredentialValidator()
        self._accepted: set[tuple[Credential, bytes]] = set()

    def validate(self, credential: Credential, signature_key: bytes) -> None:
        if (credential, signature_key) not in self._accepted:
            self._inner.validate(credential, signature_key)
            self._accepted.add((credential, signature_key))


class KeyPackages:
    def __init__(self, relay: Relay) -> None:
        self._relay = relay

    @staticmethod
    def check(
        data: bytes,
        account: AccountRecord,
        device: DeviceRecord,
        now: int,
        credentials: _CredentialCache,
    ) -> None:
        """Refuse anything but a valid KeyPackage of ``device`` (defence in depth:
        clients validate every KeyPackage they use). It must decode, use a suite
        Cove builds, carry the device's Cove identity (its handle, identity key
        and device key) and pass RFC 9420 §10.1 validation at ``now``: two
        signatures, plus the credential's once per upload."""
        try:
            message = MLSMessage.from_bytes(data)
        except DecodeError as exc:
            raise InvalidMLSMessage(f"not a KeyPackage: {exc}") from None
        kp = message.body
        if not isinstance(kp, KeyPackage):
            raise InvalidMLSMessage("not a KeyPackage (wire format)")
        try:
            suite = suite_for(kp.cipher_suite)
        except UnsupportedCipherSuite:
            raise InvalidMLSMessage(f"unsupported cipher suite {kp.cipher_suite}") from None
        try:
            identity = CoveIdentity.from_credential(kp.leaf_node.credential)
        except ValidationError as exc:
            raise InvalidMLSMessage(f"KeyPackage credential: {exc}") from None
        if (
            identity.device_key != device.device_key
            or identity.identity_key != account.identity_key
            or identity.handle != account.handle
        ):
            raise InvalidMLSMessage("the KeyPackage's credential is not the uploading device's")
        try:
            validate_key_package(suite, kp, credential_validator=credentials, now=now)
        except (ValidationError, CryptoError) as exc:
            raise InvalidMLSMessage(f"invalid KeyPackage: {exc}") from None

    async def upload(self, caller: Caller, req: E.KeyPackageUpload) -> E.KeyPackageCount:
        relay = self._relay
        async with relay.storage.read() as txn:
            account = await txn.account_by_id(caller.account_id)
            devices = await txn.devices_by_ids([caller.device_id])
        if account is None or len(devices) != 1 or devices[0].account_id != account.account_id:
            raise Unauthorized("unknown or expired token")
        now, credentials = relay.clock.now(), _CredentialCache()
        for kp in req.key_packages:
            self.check(kp, account, devices[0], now, credentials)
        if req.last_resort is not None:
            self.check(req.last_resort, account, devices[0], now, credentials)
        async with relay.storage.write() as txn:
            held, _ = await txn.count_key_packages(caller.device_id)
            if held + len(req.key_packages) > relay.config.limit("key_packages_per_device"):
                raise RelayError("too many KeyPackages", code=ErrorCode.KEY_PACKAGE_LIMIT)
            await txn.insert_key_packages(caller.device_id, list(req.key_packages))
            if req.last_resort is not None:
                await txn.set_last_resort(caller.device_id, req.last_resort)
            one_time, last_resort = await txn.count_key_packages(caller.device_id)
        return E.KeyPackageCount(one_time=one_time, last_resort=last_resort)

    async def count(self, caller: Caller) -> E.KeyPackageCount:
        relay = self._relay
        async with relay.storage.read() as txn:
            one_time, last_resort = await txn.count_key_packages(caller.device_id)
        return E.KeyPackageCount(one_time=one_time, last_resort=last_resort)

    async def claim(self, caller: Caller, req: E.ClaimRequest) -> E.ClaimResponse:
        """One KeyPackage per device of the target, in one transaction: one-time
        ones are deleted as they are handed out; the last-resort one is kept."""
        relay = self._relay
        relay.check_rate("kp_claims_per_requester", caller.account_id)
        async with relay.storage.write() as txn:
            account = await txn.account_by_handle(req.handle)
            if account is None:
                raise NotFound("no such account")
            relay.check_rate("kp_claims_per_target", account.account_id)
            claimed = []
            for device in await txn.devices_of(account.account_id):
                taken = await txn.take_key_package(device.device_id)
                if taken is not None:
                    claimed.append(E.ClaimedKeyPackage(
                        device_id=device.device_id, device_key=device.device_key,
                        key_package=taken[0], last_resort=taken[1],
                    ))  # fmt: skip
            if not claimed:
                raise RelayError("no KeyPackage left", code=ErrorCode.NO_KEY_PACKAGE)
        return E.ClaimResponse(
            account_id=account.account_id,
            identity_key=account.identity_key,
            key_packages=tuple(claimed),
        )
