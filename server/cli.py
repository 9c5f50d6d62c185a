"""``cove-relay``: set up, run and administer a relay.

::

    cove-relay init    [--data DIR]                config + database + first invite code
    cove-relay serve   [--data DIR] [--host H] [--port N|0]
    cove-relay invite create [--data DIR] [--uses N] [--expires 7d|12h|30m|45s|never]
    cove-relay invite list   [--data DIR] [--json]
    cove-relay invite revoke [--data DIR] ID|CODE
    cove-relay status  [--data DIR] [--json]
    cove-relay backup  [--data DIR] --to FILE       consistent online copy
    cove-relay purge   [--data DIR]                 the retention purge, once, now

``--data`` defaults to ``$COVE_RELAY_DATA``, else ``relay-data`` (as
``scripts/relay``). ``serve`` prints ``listening on http(s)://HOST:PORT`` as
its first line (the real port when 0 was asked) and stops cleanly on
SIGINT/SIGTERM. Durations are printed in words ("7 days"), times in UTC.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import ssl
import sys
import time
from pathlib import Path

from aiohttp import web

from cove.protocol.wire.limits import limit

from .config import CONFIG_NAME, DEFAULT_CONFIG, ConfigError, RelayConfig, load_config
from .domain.clock import SystemClock
from .domain.invites import InviteInfo, InviteNotFound
from .domain.relay import Relay
from .http.app import make_app
from .http.guard import header_timeout_guard
from .http.logs import ACCESS_BUFFER, AccessLogger, setup_logging
from .storage.sqlite import SchemaTooNew, SqliteStorage

_DURATION = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_WORDS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))
DATA_ENV = "COVE_RELAY_DATA"
DEFAULT_DATA = "relay-data"


def human_duration(seconds: int) -> str:
    """``604800`` -> ``7 days``; ``90061`` -> ``1 day 1 hour`` (at most two adjacent units)."""
    if seconds <= 0:
        return "0 seconds"
    # to the nearest hour above a day, the nearest minute above an hour: an invite
    # made a second ago for 7 days "expires in 7 days", not "6 days 23 hours"
    for above, step in ((86400, 3600), (3600, 60)):
        if seconds >= above:
            seconds = (seconds + step // 2) // step * step
            break
    parts = []
    for word, size in _WORDS:
        n, seconds = divmod(seconds, size)
        if n:
            parts.append(f"{n} {word}{'s' if n != 1 else ''}")
        elif parts:
            break  # keep adjacent units only: "1 day 1 hour", never "1 day 5 seconds"
        if len(parts) == 2:
            break
    return " ".join(parts)


def _utc(ts: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def _expiry(expires_at: int | None, now: int) -> str:
    if expires_at is None:
        return "never expires"
    return f"expires in {human_duration(expires_at - now)}"


def parse_duration(text: str) -> int | None:
    """``7d``, ``12h``, ``30m``, ``45s`` -> seconds; ``never`` -> None."""
    if text == "never":
        return None
    m = _DURATION.fullmatch(text)
    if not m or int(m.group(1)) == 0:
        raise argparse.ArgumentTypeError("use e.g. 7d, 12h, 30m, 45s or never")
    return int(m.group(1)) * _UNITS[m.group(2)]


async def _with_relay(config: RelayConfig) -> Relay:
    storage = SqliteStorage(config.db_path)
    await storage.open()
    relay = Relay(config, storage, SystemClock())
    await relay.start()
    return relay


async def _init(data: Path) -> int:
    config_path = data / CONFIG_NAME
    if config_path.exists():
        print(f"{config_path} exists; not overwriting it", file=sys.stderr)
        return 1
    data.mkdir(parents=True, exist_ok=True)
    os.chmod(data, 0o700)
    config_path.write_text(DEFAULT_CONFIG, encoding="utf-8")
    os.chmod(config_path, 0o600)
    relay = await _with_relay(load_config(data))
    lifetime = 7 * 86400
    try:
        code = await relay.invites.create(1, lifetime)
    finally:
        await relay.storage.close()
    print(f"wrote {config_path} and {relay.config.db_path}")
    print(f"first registration invite code (1 use, expires in {human_duration(lifetime)}):")
    print(code)
    return 0


async def _invite_create(config: RelayConfig, uses: int, expires: int | None) -> int:
    relay = await _with_relay(config)
    try:
        code = await relay.invites.create(uses, expires)
    finally:
        await relay.storage.close()
    when = "never expires" if expires is None else f"expires in {human_duration(expires)}"
    print(f"invite code ({uses} use{'s' if uses != 1 else ''}, {when}):")
    print(code)
    return 0


def _invite_json(invite: InviteInfo) -> dict[str, object]:
    return {"id": invite.invite_id, "uses_left": invite.uses_left,
            "expires_at": invite.expires_at, "created_at": invite.created_at}  # fmt: skip


async def _invite_list(config: RelayConfig, as_json: bool) -> int:
    relay = await _with_relay(config)
    try:
        invites = await relay.invites.list()
    finally:
        await relay.storage.close()
    if as_json:
        print(json.dumps({"invites": [_invite_json(i) for i in invites]}, indent=2))
        return 0
    if not invites:
        print("no usable invites")
        return 0
    now = relay.clock.now()
    print(f"{'id':<9} {'uses left':>9}  {'created':<20}  expiry")
    for i in invites:
        print(f"{i.invite_id:<9} {i.uses_left:>9}  {_utc(i.created_at):<20}  "
              f"{_expiry(i.expires_at, now)}")  # fmt: skip
    return 0


async def _invite_revoke(config: RelayConfig, which: str) -> int:
    relay = await _with_relay(config)
    try:
        invite = await relay.invites.revoke(which)
    except InviteNotFound as exc:
        print(f"cove-relay: {exc}", file=sys.stderr)
        return 1
    finally:
        await relay.storage.close()
    left = f"{invite.uses_left} use{'s' if invite.uses_left != 1 else ''} left"
    print(f"revoked invite {invite.invite_id} ({left}); it can no longer be used")
    return 0


async def _status(config: RelayConfig, as_json: bool) -> int:
    relay = await _with_relay(config)
    try:
        async with relay.storage.read() as txn:
            counts = await txn.counts()
    finally:
        await relay.storage.close()
    size = config.db_path.stat().st_size
    if as_json:
        print(json.dumps({
            "relay_id": relay.relay_id.hex(), "database": str(config.db_path),
            "database_bytes": size, "registration": config.registration,
            "retention_seconds": config.retention_max_age, "counts": counts,
        }, indent=2))  # fmt: skip
        return 0
    print(f"relay id: {relay.relay_id.hex()}")
    print(f"database: {config.db_path} ({size} bytes)")
    print(f"registration: {config.registration}")
    print(f"retention: {human_duration(config.retention_max_age)}")
    for name, n in counts.items():
        print(f"{name}: {n}")
    return 0


async def _purge(config: RelayConfig) -> int:
    """The retention purge, once, now (as the serving relay does on its schedule): for
    example right after lowering a retention period."""
    relay = await _with_relay(config)
    try:
        total = await relay.do_purge()
    finally:
        await relay.storage.close()
    print(f"purged {total} item{'' if total == 1 else 's'} past their retention "
          "(messages, attachments, Welcomes)")  # fmt: skip
    return 0


async def _backup(config: RelayConfig, target: Path) -> int:
    if target.exists():
        print(f"{target} exists; not overwriting it", file=sys.stderr)
        return 1
    storage = SqliteStorage(config.db_path)
    await storage.open()
    try:
        await storage.backup(target)
    finally:
        await storage.close()
    os.chmod(target, 0o600)
    print(f"backup written to {target}")
    return 0


async def _serve(config: RelayConfig, host: str, port: int) -> int:
    setup_logging(config.log_level)
    app = make_app(config)
    runner = web.AppRunner(
        app,
        access_log_class=AccessLogger,
        keepalive_timeout=float(config.limit("keepalive_timeout")),
        max_line_size=limit("header_line"),
        max_field_size=limit("header_line"),
        max_headers=limit("header_count"),
        handle_signals=False,
    )
    await runner.setup()
    ssl_ctx = None
    if config.tls_cert is not None and config.tls_key is not None:
        ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ssl_ctx.load_cert_chain(config.tls_cert, config.tls_key)
    site = web.TCPSite(runner, host, port, ssl_context=ssl_ctx)
    await site.start()
    assert runner.server is not None
    guard = asyncio.create_task(
        header_timeout_guard(runner.server, float(config.limit("header_timeout")), SystemClock())
    )
    bound = runner.addresses[0][1]
    scheme = "https" if ssl_ctx else "http"
    shown = f"[{host}]" if ":" in host else host
    print(f"listening on {scheme}://{shown}:{bound}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        guard.cancel()
        await runner.cleanup()
        ACCESS_BUFFER.flush()
    return 0


def _default_data() -> Path:
    return Path(os.environ.get(DATA_ENV) or DEFAULT_DATA)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cove-relay", description="Run and administer a Cove relay.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def data_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--data", type=Path, default=None,
                        help=f"the relay's data directory (default: ${DATA_ENV}, "
                             f"else ./{DEFAULT_DATA})")  # fmt: skip

    def json_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--json", action="store_true", help="print JSON instead of text")

    data_arg(sub.add_parser("init", help="write a config, create the database, print an invite"))
    serve = sub.add_parser("serve", help="run the relay")
    data_arg(serve)
    serve.add_argument("--host", help="address to bind (default: config, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (0: any free port; default: config)")
    invite = sub.add_parser("invite", help="registration invites: create, list, revoke")
    invite_sub = invite.add_subparsers(dest="invite_command", required=True, metavar="ACTION")
    create = invite_sub.add_parser("create", help="create an invite code (printed last)")
    data_arg(create)
    create.add_argument("--uses", type=int, default=1, help="how many registrations (default 1)")
    create.add_argument("--expires", type=parse_duration, default=7 * 86400,
                        help="7d, 12h, 30m, 45s or never (default 7d)")  # fmt: skip
    listing = invite_sub.add_parser("list", help="invites that can still be used")
    data_arg(listing)
    json_arg(listing)
    revoke = invite_sub.add_parser("revoke", help="make an invite unusable")
    data_arg(revoke)
    revoke.add_argument(
        "invite", metavar="ID|CODE", help="an id from `invite list` (or its prefix), or the code"
    )
    status = sub.add_parser("status", help="relay id, database size and counts")
    data_arg(status)
    json_arg(status)
    data_arg(sub.add_parser("purge", help="delete what is past its retention, now"))
    backup = sub.add_parser("backup", help="consistent copy of the database while serving")
    data_arg(backup)
    backup.add_argument("--to", type=Path, required=True, help="file to write")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    data: Path = args.data if args.data is not None else _default_data()
    try:
        if args.command == "init":
            return asyncio.run(_init(data))
        config = load_config(data)
        if args.command == "serve":
            host = args.host or config.host
            port = config.port if args.port is None else args.port
            return asyncio.run(_serve(config, host, port))
        if args.command == "invite":
            if args.invite_command == "list":
                return asyncio.run(_invite_list(config, args.json))
            if args.invite_command == "revoke":
                return asyncio.run(_invite_revoke(config, args.invite))
            if args.uses < 1:
                raise ConfigError("--uses must be at least 1")
            return asyncio.run(_invite_create(config, args.uses, args.expires))
        if args.command == "status":
            return asyncio.run(_status(config, args.json))
        if args.command == "purge":
            return asyncio.run(_purge(config))
        if args.command == "backup":
            return asyncio.run(_backup(config, args.to))
    except (ConfigError, SchemaTooNew, OSError) as exc:
        print(f"cove-relay: {exc}", file=sys.stderr)
        return 2
    return 2  # pragma: no cover - argparse requires a command


if __name__ == "__main__":
    sys.exit(main())
