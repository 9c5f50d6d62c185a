"""The relay's configuration: ``relay.toml`` in the data directory.

``cove-relay init`` writes a commented file with safe defaults; unknown keys
are refused so a typo cannot silently weaken a setting.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from cove.protocol.wire.limits import LIMITS, limit

CONFIG_NAME = "relay.toml"
DB_NAME = "relay.sqlite3"

DEFAULT_CONFIG = """\
# Cove relay configuration. Written by `cove-relay init`; edit and restart.
# Every setting has a safe default; see docs/server/operations.md.

[server]
# Address to listen on. Keep 127.0.0.1 behind a reverse proxy (recommended);
# use 0.0.0.0 only with TLS below.
host = "127.0.0.1"
port = 8470
# Serve TLS directly (PEM files). Leave unset behind a TLS-terminating proxy.
# tls_cert = "/etc/letsencrypt/live/relay.example.org/fullchain.pem"
# tls_key = "/etc/letsencrypt/live/relay.example.org/privkey.pem"
# Behind a reverse proxy, the header carrying the client address, used only
# in memory for per-address rate limits (never stored or logged).
# client_address_header = "X-Forwarded-For"

[registration]
# "invite": new accounts need an invite code (`cove-relay invite create`).
# "open": anyone who can reach the relay may register.
mode = "invite"

[retention]
# Relay-wide maximum age of messages, Welcomes and attachments, in days.
# Groups may choose a shorter one; never a longer one.
max_age_days = 365
# How often the purge runs, in seconds.
sweep_interval_seconds = 300

[logging]
# "info" or "debug". Logs never contain addresses, tokens, keys or payloads.
level = "info"

[limits]
# Overrides of the adjustable rows of docs/server/limits.md, by name, e.g.
# group_blob_quota = 268435456
# kp_claims_per_target = 10
"""


class ConfigError(Exception):
    """relay.toml is missing, malformed or has unknown or invalid settings."""


@dataclass(frozen=True)
class RelayConfig:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8470
    tls_cert: Path | None = None
    tls_key: Path | None = None
    client_address_header: str | None = None
    registration: str = "invite"
    retention_max_age: int = 365 * 86400
    sweep_interval: float = 300.0
    log_level: str = "info"
    limits: dict[str, int] = field(default_factory=dict)

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_NAME

    def limit(self, name: str) -> int:
        return self.limits.get(name, limit(name))


_ALLOWED = {
    "server": {"host", "port", "tls_cert", "tls_key", "client_address_header"},
    "registration": {"mode"},
    "retention": {"max_age_days", "sweep_interval_seconds"},
    "logging": {"level"},
    "limits": {lim.name for lim in LIMITS if not lim.fixed},
}


def _get(
    table: dict[str, object], key: str, kinds: type | tuple[type, ...], default: object
) -> object:
    if key not in table:
        return default
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise ConfigError(f"{key} has the wrong type")
    return value


def load_config(data_dir: Path) -> RelayConfig:
    path = data_dir / CONFIG_NAME
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} not found; run `cove-relay init --data {data_dir}`") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    for section, body in doc.items():
        if section not in _ALLOWED or not isinstance(body, dict):
            raise ConfigError(f"unknown section [{section}]")
        unknown = set(body) - _ALLOWED[section]
        if unknown:
            raise ConfigError(f"unknown setting(s) in [{section}]: {', '.join(sorted(unknown))}")
    server = doc.get("server", {})
    registration = doc.get("registration", {})
    retention = doc.get("retention", {})
    logging_ = doc.get("logging", {})
    limits = doc.get("limits", {})
    for name, value in limits.items():
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ConfigError(f"limits.{name} must be a positive integer")
    mode = _get(registration, "mode", str, "invite")
    if mode not in ("invite", "open"):
        raise ConfigError('registration.mode must be "invite" or "open"')
    level = _get(logging_, "level", str, "info")
    if level not in ("info", "debug"):
        raise ConfigError('logging.level must be "info" or "debug"')
    max_age_days = _get(retention, "max_age_days", (int, float), 365)
    sweep = _get(retention, "sweep_interval_seconds", (int, float), 300)
    assert isinstance(max_age_days, int | float) and isinstance(sweep, int | float)
    if max_age_days <= 0 or sweep <= 0:
        raise ConfigError("retention settings must be positive")
    cert = _get(server, "tls_cert", str, None)
    key = _get(server, "tls_key", str, None)
    if (cert is None) != (key is None):
        raise ConfigError("tls_cert and tls_key go together")
    port = _get(server, "port", int, 8470)
    assert isinstance(port, int)
    if not 0 <= port <= 65535:
        raise ConfigError("port out of range")
    return RelayConfig(
        data_dir=data_dir,
        host=str(_get(server, "host", str, "127.0.0.1")),
        port=port,
        tls_cert=None if cert is None else Path(str(cert)),
        tls_key=None if key is None else Path(str(key)),
        client_address_header=(
            None
            if server.get("client_address_header") is None
            else str(_get(server, "client_address_header", str, None))
        ),
        registration=str(mode),
        retention_max_age=max(1, int(max_age_days * 86400)),
        sweep_interval=float(sweep),
        log_level=str(level),
        limits=dict(limits),
    )
