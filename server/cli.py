"""``cove-relay``: set up, run and administer a relay.

::

    cove-relay init    [--data DIR]               config + database + first invite code
    cove-relay serve   [--data DIR] [--host H] [--port N|0]
    cove-relay invite create [--data DIR] [--uses N] [--expires 7d|12h|30m|never]
    cove-relay invite list   [--data DIR] [--json]
    cove-relay invite revoke [--data DIR] ID|CODE
    cove-relay status  [--data DIR] [--json]
    cove-relay backup  [--data DIR] --to FILE     consistent online copy
    cove-relay purge   [--data DIR]               the retention purge, once, now

``--data`` defaults to ``$COVE_RELAY_DATA``, else ``./relay-data`` (as
``scripts/relay``). Durations are printed in the largest whole unit ("7 days").
``serve`` prints ``listening on http(s)://HOST:PORT`` as its first line (the
real port when 0 was asked) and stops cleanly on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import ssl
import sys
from pathlib import Path

from aiohttp import web

from cove.protocol.wire.limits import limit

from . import admin
from .config import CONFIG_NAME, DEFAULT_CONFIG, ConfigError, RelayConfig, load_config
from .domain.clock import SystemClock
from .http.app import make_app
from .http.guard import header_timeout_guard
from .http.logs import AccessLogger, setup_logging
from .storage.sqlite import SchemaTooNew, SqliteStorage

FIRST_INVITE_EXPIRES = 7 * 86400
DEFAULT_DATA = "relay-data"
_DURATION = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int | None:
    """``7d``, ``12h``, ``30m``, ``45s`` -> seconds; ``never`` -> None."""
    if text == "never":
        return None
    m = _DURATION.fullmatch(text)
    if not m or int(m.group(1)) == 0:
        raise argparse.ArgumentTypeError("use e.g. 7d, 12h, 30m, 45s or never")
    return int(m.group(1)) * _UNITS[m.group(2)]


async def _init(data: Path) -> int:
    config_path = data / CONFIG_NAME
    if config_path.exists():
        print(f"{config_path} exists; not overwriting it", file=sys.stderr)
        return 1
    data.mkdir(parents=True, exist_ok=True)
    os.chmod(data, 0o700)
    config_path.write_text(DEFAULT_CONFIG, encoding="utf-8")
    os.chmod(config_path, 0o600)
    relay = await admin.open_relay(load_config(data))
    try:
        code = await relay.do_create_invite(1, FIRST_INVITE_EXPIRES)
    finally:
        await relay.storage.close()
    print(f"wrote {config_path} and {relay.config.db_path}")
    print(f"first registration invite code (1 use, {admin.describe_expiry(FIRST_INVITE_EXPIRES)}):")
    print(code)
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
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cove-relay", description="Run a Cove relay.")
    sub = p.add_subparsers(dest="command", required=True)

    data_default = Path(os.environ.get("COVE_RELAY_DATA") or DEFAULT_DATA)

    def data_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--data", type=Path, default=data_default,
            help=f"the relay's data directory (default: $COVE_RELAY_DATA, else ./{DEFAULT_DATA};"
            f" now {data_default})",
        )  # fmt: skip

    def json_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--json", action="store_true", help="print one JSON document")

    data_arg(sub.add_parser("init", help="write a config, create the database, print an invite"))
    serve = sub.add_parser("serve", help="run the relay")
    data_arg(serve)
    serve.add_argument("--host", help="address to bind (default: config, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (0: any free port; default: config)")
    invite = sub.add_parser("invite", help="registration invites")
    invite_sub = invite.add_subparsers(dest="invite_command", required=True)
    create = invite_sub.add_parser("create", help="create an invite code")
    data_arg(create)
    create.add_argument("--uses", type=int, default=1, help="how many registrations (default 1)")
    create.add_argument("--expires", type=parse_duration, default=7 * 86400,
                        help="7d, 12h, 30m, 45s or never (default 7d)")  # fmt: skip
    listing = invite_sub.add_parser("list", help="the invites not used up (by id)")
    data_arg(listing)
    json_arg(listing)
    revoke = invite_sub.add_parser("revoke", help="revoke an invite so nobody can use it")
    data_arg(revoke)
    revoke.add_argument("invite", help="its id (as 'invite list' shows) or the code itself")
    status = sub.add_parser("status", help="counts and database size")
    data_arg(status)
    json_arg(status)
    data_arg(sub.add_parser("purge", help="delete what is past its retention now"))
    backup = sub.add_parser("backup", help="consistent copy of the database while serving")
    data_arg(backup)
    backup.add_argument("--to", type=Path, required=True, help="file to write")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    data: Path = args.data
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
                return asyncio.run(admin.list_invites(config, args.json))
            if args.invite_command == "revoke":
                return asyncio.run(admin.revoke_invite(config, args.invite))
            if args.uses < 1:
                raise ConfigError("--uses must be at least 1")
            return asyncio.run(admin.create_invite(config, args.uses, args.expires))
        if args.command == "status":
            return asyncio.run(admin.status(config, args.json))
        if args.command == "purge":
            return asyncio.run(admin.purge(config))
        if args.command == "backup":
            return asyncio.run(_backup(config, args.to))
    except (ConfigError, SchemaTooNew, OSError) as exc:
        print(f"cove-relay: {exc}", file=sys.stderr)
        return 2
    return 2  # pragma: no cover - argparse requires a command


if __name__ == "__main__":
    sys.exit(main())
