"""What every part of the client shares: the store, the account, the relay session,
randomness and the clock. One per open :class:`~cove.client.service.CoveClient`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cove.client.account import Account, save_account
from cove.client.clock import Clock
from cove.client.session import RelaySession
from cove.client.store import Store
from cove.protocol import RandomProvider


@dataclass(slots=True)
class Context:
    home: Path
    store: Store
    account: Account
    rng: RandomProvider
    clock: Clock
    session: RelaySession

    def __repr__(self) -> str:
        return f"Context(home={str(self.home)!r}, handle={self.account.handle!r})"

    async def save_account(self) -> None:
        async with self.store.transaction() as txn:
            await save_account(txn, self.account)
