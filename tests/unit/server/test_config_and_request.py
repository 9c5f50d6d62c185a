"""relay.toml parsing and the request helpers (address key, query, ids)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request

from cove.server.config import DEFAULT_CONFIG, ConfigError, load_config
from cove.server.domain.crypto import TOKEN_CHARS, new_token, token_is_ours
from cove.server.errors import BadRequest, GroupNotFound
from cove.server.http.request import bearer, client_address, group_id_param, query_ints


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "relay.toml").write_text(text)
    return tmp_path


def test_default_config_is_safe(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, DEFAULT_CONFIG))
    assert config.host == "127.0.0.1"
    assert config.registration == "invite"
    assert config.tls_cert is None and config.client_address_header is None
    assert config.retention_max_age == 365 * 86400
    assert config.limit("kp_claims_per_target") == 10


@pytest.mark.parametrize(
    "text",
    [
        "[server]\nhots = '0.0.0.0'\n",  # typo
        "[nonsense]\n",
        "[registration]\nmode = 'anyone'\n",
        "[limits]\nrequest_body = 10\n",  # fixed by the wire format
        "[limits]\nblob = -1\n",
        "[limits]\nblob = true\n",
        "[server]\ntls_cert = '/x.pem'\n",  # without a key
        "[server]\nport = 70000\n",
        "[retention]\nmax_age_days = 0\n",
        "not toml at all ][",
    ],
)
def test_bad_configs_are_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError):
        load_config(_write(tmp_path, text))


def test_missing_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cove-relay init"):
        load_config(tmp_path)


def test_client_address_uses_the_proxy_header_only_when_configured() -> None:
    req = make_mocked_request("GET", "/", headers={"X-Forwarded-For": "203.0.113.9, 10.0.0.1"})
    assert client_address(req, "X-Forwarded-For") == "10.0.0.1"  # the proxy appended it
    assert client_address(req, None) != "10.0.0.1"


def test_bearer_and_parameters() -> None:
    token = new_token(b"k" * 32)
    assert len(token) == TOKEN_CHARS
    auth = {"Authorization": f"Bearer {token}"}
    assert bearer(make_mocked_request("GET", "/", headers=auth)) == token
    assert token_is_ours(b"k" * 32, token) and not token_is_ours(b"x" * 32, token)
    for value in ("Bearer abc", f"Basic {token}", f"Bearer {token}x", "Bearer " + "ÿ" * 64,
                  "Bearer " + "é" * 64, "Bearer " + "+" * 64, "Bearer"):  # fmt: skip
        assert bearer(make_mocked_request("GET", "/", headers={"Authorization": value})) is None
    assert not token_is_ours(b"k" * 32, "A" * 64)
    assert bearer(make_mocked_request("GET", "/")) is None
    ok = make_mocked_request("GET", "/", match_info={"group_id": "ab" * 16})
    assert group_id_param(ok) == b"\xab" * 16
    for bad in ("AB" * 16, "ab" * 15, "zz" * 16, "a" * 33):
        with pytest.raises(GroupNotFound):
            group_id_param(make_mocked_request("GET", "/", match_info={"group_id": bad}))
    assert query_ints(make_mocked_request("GET", "/?after=5"), {"after": 0, "limit": 9}) == {
        "after": 5, "limit": 9}  # fmt: skip
    for q in ("after=-1", "after=1e3", "x=1", "after=1&after=1"):
        with pytest.raises(BadRequest):
            query_ints(make_mocked_request("GET", "/?" + q), {"after": 0})
