"""The operator's ``cove-relay`` command, run as installed (``.venv/bin/cove-relay``):
the data directory defaults to ``$COVE_RELAY_DATA`` or ``./relay-data`` (as
``scripts/relay``), durations are printed in words, invites can be listed and
revoked, and ``status --json`` is machine-readable."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from cove.protocol.wire.codes import ErrorCode
from tests.support.relay_process import CallError, RelayProcess, TestClient

pytestmark = pytest.mark.integration

COVE_RELAY = Path(sys.executable).parent / "cove-relay"


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "COVE_RELAY_DATA"}
    environ.update(env or {})
    out = subprocess.run(
        [str(COVE_RELAY), *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=60
    )
    assert (out.returncode == 0) == ok, (args, out.returncode, out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    return out


def test_the_command_is_installed() -> None:
    assert COVE_RELAY.is_file() and os.access(COVE_RELAY, os.X_OK)


def test_data_defaults_to_the_environment_then_relay_data(tmp_path: Path) -> None:
    out = run("init", cwd=tmp_path)
    assert (tmp_path / "relay-data" / "relay.toml").is_file()
    assert out.stdout.splitlines()[-2] == (
        "first registration invite code (1 use, expires in 7 days):"
    )
    assert "registration: invite" in run("status", cwd=tmp_path).stdout
    elsewhere = tmp_path / "elsewhere"
    env = {"COVE_RELAY_DATA": str(elsewhere)}
    run("init", cwd=tmp_path, env=env)
    assert (elsewhere / "relay.toml").is_file()
    status = json.loads(run("status", "--json", cwd=tmp_path, env=env).stdout)
    assert status["database"] == str(elsewhere / "relay.sqlite3")
    # --data still wins over both
    status = json.loads(
        run(
            "status", "--json", "--data", str(tmp_path / "relay-data"), cwd=tmp_path, env=env
        ).stdout
    )
    assert status["database"] == str(tmp_path / "relay-data" / "relay.sqlite3")
    missing = run("status", cwd=tmp_path / "elsewhere", ok=False)
    assert missing.returncode == 2
    assert "relay-data/relay.toml not found; run `cove-relay init" in missing.stderr


def test_durations_are_in_words(tmp_path: Path) -> None:
    run("init", cwd=tmp_path)
    for expires, words in (("12h", "expires in 12 hours"), ("30m", "expires in 30 minutes"),
                           ("45s", "expires in 45 seconds"), ("14d", "expires in 14 days"),
                           ("never", "never expires")):  # fmt: skip
        out = run("invite", "create", "--uses", "2", "--expires", expires, cwd=tmp_path).stdout
        assert out.splitlines()[0] == f"invite code (2 uses, {words}):"
        assert out.splitlines()[1].startswith("cove-")
    listing = run("invite", "list", cwd=tmp_path).stdout
    for words in (
        "expires in 7 days",
        "expires in 12 hours",
        "expires in 14 days",
        "never expires",
    ):
        assert words in listing
    assert " s)" not in listing and "604800" not in listing
    assert "retention: 365 days" in run("status", cwd=tmp_path).stdout


def test_invites_are_listed_and_revoked(tmp_path: Path) -> None:
    data = tmp_path / "relay-data"
    first = run("init", cwd=tmp_path).stdout.splitlines()[-1]
    second = run("invite", "create", "--uses", "3", cwd=tmp_path).stdout.splitlines()[-1]
    third = run("invite", "create", cwd=tmp_path).stdout.splitlines()[-1]
    invites = json.loads(run("invite", "list", "--json", cwd=tmp_path).stdout)["invites"]
    assert [i["uses_left"] for i in invites] == [1, 3, 1]
    assert all(len(i["id"]) == 8 and i["expires_at"] > i["created_at"] for i in invites)
    text = run("invite", "list", cwd=tmp_path).stdout
    assert text.splitlines()[0].split() == ["id", "uses", "left", "created", "expiry"]
    assert all(i["id"] in text for i in invites)
    assert first not in text and second not in text  # codes are never shown again
    # revoke the second by its id, the third by its code
    out = run("invite", "revoke", invites[1]["id"], cwd=tmp_path).stdout
    assert (
        out.strip() == f"revoked invite {invites[1]['id']} (3 uses left); it can no longer be used"
    )
    out = run("invite", "revoke", third, cwd=tmp_path).stdout
    assert out.startswith(f"revoked invite {invites[2]['id']} (1 use left)")
    again = run("invite", "revoke", invites[1]["id"], cwd=tmp_path, ok=False)
    assert again.returncode == 1
    assert again.stderr.strip() == f"cove-relay: no usable invite '{invites[1]['id']}'"
    bad = run("invite", "revoke", "zz", cwd=tmp_path, ok=False)
    assert "name an invite by its id (at least 4 hex digits" in bad.stderr
    remaining = json.loads(run("invite", "list", "--json", cwd=tmp_path).stdout)["invites"]
    assert [i["id"] for i in remaining] == [invites[0]["id"]]
    # the relay refuses the revoked codes and takes the remaining one
    relay = RelayProcess(data=data)
    relay.serve()
    try:

        async def register() -> None:
            async with aiohttp.ClientSession() as http:
                for code in (second, third):
                    with pytest.raises(CallError) as err:
                        await TestClient.register(http, relay.url, invite=code, login=False)
                    assert err.value.code == ErrorCode.INVALID_INVITE
                await TestClient.register(http, relay.url, invite=first, login=False)

        asyncio.run(register())
    finally:
        relay.stop()
    assert run("invite", "list", cwd=tmp_path).stdout.strip() == "no usable invites"


def test_status_json(tmp_path: Path) -> None:
    run("init", cwd=tmp_path)
    status = json.loads(run("status", "--json", cwd=tmp_path).stdout)
    assert set(status) == {"relay_id", "database", "database_bytes", "registration",
                           "retention_seconds", "counts"}  # fmt: skip
    assert len(bytes.fromhex(status["relay_id"])) == 16
    assert status["registration"] == "invite" and status["retention_seconds"] == 365 * 86400
    assert status["database_bytes"] == (tmp_path / "relay-data" / "relay.sqlite3").stat().st_size
    assert status["counts"]["invites"] == 1 and status["counts"]["accounts"] == 0
