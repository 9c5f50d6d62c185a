"""``cove-relay`` admin commands (issue 8): ``--data`` defaults like ``scripts/relay``,
durations printed one way, ``invite list`` / ``invite revoke``, ``status --json``.
Real SQLite files; the commands run in this process (``cove.server.cli.main``)."""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from pathlib import Path

import pytest

from cove.server.cli import main
from cove.server.domain.crypto import secret_hash


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def invite_hashes(data: Path) -> list[bytes]:
    """The invites table as it is on disk (read with sqlite3, not the relay's code)."""
    with contextlib.closing(sqlite3.connect(data / "relay.sqlite3")) as db:
        return [bytes(r[0]) for r in db.execute("SELECT code_hash FROM invites")]


def test_durations_are_written_one_way() -> None:
    from cove.server.admin import describe_duration

    assert [describe_duration(s) for s in (604800, 86400, 43200, 5400, 90, 1, 0)] == [
        "7 days", "1 day", "12 hours", "90 minutes", "90 seconds", "1 second", "0 days",
    ]  # fmt: skip


def test_data_defaults_to_the_environment_then_relay_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COVE_RELAY_DATA", raising=False)
    code, out, _ = run(capsys, "init")
    assert code == 0 and (tmp_path / "relay-data" / "relay.toml").exists()
    assert "first registration invite code (1 use, expires in 7 days):" in out
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("COVE_RELAY_DATA", str(elsewhere))
    assert run(capsys, "init")[0] == 0 and (elsewhere / "relay.toml").exists()
    code, out, _ = run(capsys, "invite", "create", "--expires", "12h")
    assert code == 0 and "invite code (1 use, expires in 12 hours):" in out
    assert len(invite_hashes(elsewhere)) == 2 and len(invite_hashes(tmp_path / "relay-data")) == 1
    # --data still wins
    code, out, _ = run(capsys, "status", "--data", str(tmp_path / "relay-data"))
    assert code == 0 and "invites: 1" in out and "messages kept for: 365 days" in out


def test_invites_are_listed_and_revoked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "relay")
    first = run(capsys, "init", "--data", data)[1].strip().splitlines()[-1]
    second = run(capsys, "invite", "create", "--data", data, "--uses", "3", "--expires", "never")
    code = second[1].strip().splitlines()[-1]
    assert "invite code (3 uses, never expires):" in second[1]
    listed = json.loads(run(capsys, "invite", "list", "--data", data, "--json")[1])
    ids = {secret_hash(first).hex()[:8], secret_hash(code).hex()[:8]}
    assert {d["id"] for d in listed} == ids
    by_id = {d["id"]: d for d in listed}
    assert by_id[secret_hash(code).hex()[:8]]["uses_left"] == 3
    assert by_id[secret_hash(code).hex()[:8]]["expires_at"] is None
    assert not any(d["expired"] for d in listed)
    text = run(capsys, "invite", "list", "--data", data)[1]
    assert re.search(rf"{secret_hash(first).hex()[:8]}  1 use left, expires in 7 days", text)
    assert f"{secret_hash(code).hex()[:8]}  3 uses left, never expires" in text
    # the code itself, then an id
    assert run(capsys, "invite", "revoke", "--data", data, code)[0] == 0
    rc, out, _ = run(capsys, "invite", "revoke", "--data", data, secret_hash(first).hex()[:8])
    assert rc == 0 and out.strip() == f"revoked invite {secret_hash(first).hex()[:8]}"
    assert invite_hashes(tmp_path / "relay") == []
    assert run(capsys, "invite", "list", "--data", data)[1].strip() == "no invites"
    rc, _, err = run(capsys, "invite", "revoke", "--data", data, code)
    assert rc == 2 and "no invite cove-" in err and "used up, revoked or never made" in err
    rc, _, err = run(capsys, "invite", "revoke", "--data", data, "xy")
    assert rc == 2 and "neither an invite code (cove-…) nor an invite id" in err


def test_status_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "relay")
    run(capsys, "init", "--data", data)
    code, out, _ = run(capsys, "status", "--data", data, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["counts"]["invites"] == 1 and doc["counts"]["messages"] == 0
    assert doc["registration"] == "invite" and doc["retention_max_age_seconds"] == 365 * 86400
    assert doc["database_bytes"] > 0 and len(bytes.fromhex(doc["relay_id"])) > 0


def test_init_and_invite_create_print_durations_alike(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path / "relay")
    assert "expires in 7 days" in run(capsys, "init", "--data", data)[1]
    out = run(capsys, "invite", "create", "--data", data, "--expires", "7d")[1]
    assert "expires in 7 days" in out  # not "604800 s"
