"""KeyPackages: the one-time (and one last-resort) packages others claim to add us,
and their private halves (collection ``kp_bundle``, key: the KeyPackageRef)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from cove.client.context import Context
from cove.client.profile import SUITE, capabilities
from cove.client.store import Txn
from cove.client.store.records import StoreRecord
from cove.protocol import KeyPackageBundle
from cove.protocol.wire import envelopes as E
from cove.protocol.wire.schema import Bool, Bytes

BUNDLE = "kp_bundle"
BATCH = 20
LOW = 5


@dataclass(frozen=True, slots=True)
class Bundle(StoreRecord):
    """A KeyPackage with its private keys (``KeyPackageBundle.to_bytes``)."""

    KIND: ClassVar[str] = "kp_bundle"

    bundle: Annotated[bytes, Bytes(1, 1 << 16)]
    last_resort: Annotated[bool, Bool()] = False

    def __repr__(self) -> str:
        return f"Bundle(last_resort={self.last_resort}, <keys redacted>)"


class KeyPackages:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def new_bundle(self) -> KeyPackageBundle:
        a = self.ctx.account
        return KeyPackageBundle.create(
            SUITE, a.identity().credential(), self.ctx.rng, now=self.ctx.clock.now(),
            signature_private=a.device_private, capabilities=capabilities(),
        )  # fmt: skip

    async def replenish(self, *, force: bool = False) -> int:
        """Keep enough one-time KeyPackages (and one last-resort package) on the relay."""
        count = await self.ctx.session.request("count_key_packages")
        if not force and count.one_time >= LOW and count.last_resort:
            return 0
        bundles = [self.new_bundle() for _ in range(BATCH)]
        last_resort = None if count.last_resort else self.new_bundle()
        async with self.ctx.store.transaction() as txn:
            for b in bundles:
                await txn.put(BUNDLE, b.ref(), Bundle(b.to_bytes()).pack())
            if last_resort is not None:
                await txn.put(
                    BUNDLE, last_resort.ref(), Bundle(last_resort.to_bytes(), True).pack()
                )
        await self.ctx.session.request("upload_key_packages", E.KeyPackageUpload(
            key_packages=tuple(b.key_package_bytes() for b in bundles),
            last_resort=last_resort.key_package_bytes() if last_resort else None,
        ))  # fmt: skip
        return len(bundles)

    async def find(self, txn: Txn, ref: bytes) -> tuple[KeyPackageBundle, bool] | None:
        value = await txn.get(BUNDLE, ref)
        if value is None:
            return None
        b = Bundle.unpack(value)
        return KeyPackageBundle.from_bytes(b.bundle), b.last_resort

    async def used(self, txn: Txn, ref: bytes) -> None:
        """A one-time package was used to join: its private keys go."""
        await txn.delete(BUNDLE, ref)
