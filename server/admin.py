"""The relay's admin commands that read or change invites, report status and purge
(``cove-relay invite create|list|revoke``, ``cove-relay status [--json]``,
``cove-relay purge``), and how durations are written for people.

Invite codes are stored only as their SHA-256 (``docs/server/data-inventory.md``),
so an invite is listed by an *id*: the first 8 hex digits of that hash. ``revoke``
takes the id (or a longer start of the hash) or the code itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .config import ConfigError, RelayConfig
from .domain.clock import SystemClock
from .domain.crypto import secret_hash
from .domain.relay import Relay
from .storage.sqlite import SqliteStorage

ID_DIGITS = 8
_UNIT_NAMES = ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))


def describe_duration(seconds: int) -> str:
    """``604800`` -> ``7 days``, ``5400`` -> ``90 minutes``, ``1`` -> ``1 second``:
    the largest unit that divides it exactly."""
    for size, name in _UNIT_NAMES:
        if seconds % size == 0:
            n = seconds // size
            return f"{n} {name}{'' if n == 1 else 's'}"
    raise AssertionError("unreachable: 1 divides every integer")  # pragma: no cover


def describe_expiry(expires_in: int | None) -> str:
    return "never expires" if expires_in is None else f"expires in {describe_duration(expires_in)}"


async def open_relay(config: RelayConfig) -> Relay:
    storage = SqliteStorage(config.db_path)
    await storage.open()
    relay = Relay(config, storage, SystemClock())
    await relay.start()
    return relay


async def create_invite(config: RelayConfig, uses: int, expires: int | None) -> int:
    relay = await open_relay(config)
    try:
        code = await relay.do_create_invite(uses, expires)
    finally:
        await relay.storage.close()
    print(f"invite code ({uses} use{'s' if uses != 1 else ''}, {describe_expiry(expires)}):")
    print(code)
    return 0


def _invite_doc(row: tuple[bytes, int, int | None, int], now: int) -> dict[str, Any]:
    code_hash, uses_left, expires_at, created_at = row
    return {
        "id": code_hash.hex()[:ID_DIGITS],
        "uses_left": uses_left,
        "created_at": created_at,
        "expires_at": expires_at,
        "expired": expires_at is not None and expires_at <= now,
    }


def _invite_text(doc: dict[str, Any], now: int) -> str:
    uses = f"{doc['uses_left']} use{'s' if doc['uses_left'] != 1 else ''} left"
    if doc["expires_at"] is None:
        when = "never expires"
    elif doc["expired"]:
        when = "expired"
    else:
        # whole minutes, rounded up, so a fresh 7-day invite reads "7 days"
        left = -(-(doc["expires_at"] - now) // 60) * 60
        when = f"expires in {describe_duration(left)}"
    return f"{doc['id']}  {uses}, {when}"


async def list_invites(config: RelayConfig, as_json: bool) -> int:
    relay = await open_relay(config)
    try:
        async with relay.storage.read() as txn:
            rows = await txn.invites()
    finally:
        await relay.storage.close()
    now = SystemClock().now()
    docs = [_invite_doc(r, now) for r in rows]
    if as_json:
        print(json.dumps(docs, sort_keys=True))
    else:
        print("\n".join(_invite_text(d, now) for d in docs) or "no invites")
    return 0


async def revoke_invite(config: RelayConfig, ref: str) -> int:
    """Revoke by code (``cove-…``) or by id (a start of the code's hash, ≥ 4 hex digits)."""
    relay = await open_relay(config)
    try:
        async with relay.storage.write() as txn:
            hashes = [r[0] for r in await txn.invites()]
            if ref.startswith("cove-"):
                matches = [h for h in hashes if h == secret_hash(ref)]
            else:
                ref_hex = ref.lower()
                if len(ref_hex) < 4 or any(c not in "0123456789abcdef" for c in ref_hex):
                    raise ConfigError(
                        f"'{ref}' is neither an invite code (cove-…) nor an invite id "
                        "(at least 4 hex digits, as 'cove-relay invite list' shows)"
                    )
                matches = [h for h in hashes if h.hex().startswith(ref_hex)]
            if not matches:
                raise ConfigError(f"no invite {ref} (used up, revoked or never made)")
            if len(matches) > 1:
                raise ConfigError(f"'{ref}' is the start of {len(matches)} invites; give more")
            await txn.delete_invite(matches[0])
    finally:
        await relay.storage.close()
    print(f"revoked invite {matches[0].hex()[:ID_DIGITS]}")
    return 0


async def status(config: RelayConfig, as_json: bool) -> int:
    relay = await open_relay(config)
    try:
        async with relay.storage.read() as txn:
            counts = await txn.counts()
    finally:
        await relay.storage.close()
    size = Path(config.db_path).stat().st_size
    if as_json:
        doc = {
            "relay_id": relay.relay_id.hex(),
            "database": str(config.db_path),
            "database_bytes": size,
            "registration": config.registration,
            "retention_max_age_seconds": config.retention_max_age,
            "counts": counts,
        }
        print(json.dumps(doc, sort_keys=True))
        return 0
    print(f"relay id: {relay.relay_id.hex()}")
    print(f"database: {config.db_path} ({size} bytes)")
    print(f"registration: {config.registration}")
    print(f"messages kept for: {describe_duration(int(config.retention_max_age))}")
    for name, n in counts.items():
        print(f"{name}: {n}")
    return 0


async def purge(config: RelayConfig) -> int:
    """Run the retention purge once now (as the serving relay does every
    ``sweep_interval_seconds``), e.g. right after lowering a retention period."""
    relay = await open_relay(config)
    try:
        total = await relay.do_purge()
    finally:
        await relay.storage.close()
    print(f"purged {total} item{'' if total == 1 else 's'} past their retention "
          "(messages, attachments, Welcomes)")  # fmt: skip
    return 0
