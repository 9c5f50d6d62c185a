-- Cove relay schema, version 1. Every table and column is listed, with what it
-- reveals, in docs/server/data-inventory.md (a test compares the two).
-- Times are whole seconds since the Unix epoch. Ids are random bytes.

CREATE TABLE relay_meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;

CREATE TABLE invites (
    code_hash  BLOB PRIMARY KEY,           -- SHA-256 of the invite code
    uses_left  INTEGER NOT NULL CHECK (uses_left >= 0),
    expires_at INTEGER,                    -- NULL: never
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE accounts (
    account_id   BLOB PRIMARY KEY,
    handle       TEXT NOT NULL UNIQUE,
    identity_key BLOB NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE devices (
    device_id  BLOB PRIMARY KEY,
    account_id BLOB NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    device_key BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX devices_by_account ON devices (account_id);

CREATE TABLE tokens (
    token_hash BLOB PRIMARY KEY,           -- SHA-256 of the bearer token
    device_id  BLOB NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX tokens_by_device ON tokens (device_id);

CREATE TABLE key_packages (
    kp_id       INTEGER PRIMARY KEY,
    device_id   BLOB NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
    last_resort INTEGER NOT NULL CHECK (last_resort IN (0, 1)),
    data        BLOB NOT NULL
) STRICT;
CREATE INDEX key_packages_by_device ON key_packages (device_id, last_resort, kp_id);

CREATE TABLE groups (
    group_id          BLOB PRIMARY KEY,
    head_seq          INTEGER NOT NULL DEFAULT 0,
    handshake_seq     INTEGER NOT NULL DEFAULT 0,
    retention_seconds INTEGER,             -- NULL: relay default
    blob_bytes        INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL
) STRICT;

CREATE TABLE members (
    group_id   BLOB NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
    account_id BLOB NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('owner', 'moderator', 'member')),
    joined_seq INTEGER NOT NULL,
    PRIMARY KEY (group_id, account_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX members_by_account ON members (account_id);

CREATE TABLE bans (
    group_id   BLOB NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
    account_id BLOB NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, account_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE messages (
    group_id        BLOB NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    idempotency_key BLOB NOT NULL,
    handshake       INTEGER NOT NULL CHECK (handshake IN (0, 1)),
    received_at     INTEGER NOT NULL,
    data            BLOB NOT NULL,
    UNIQUE (group_id, seq),
    UNIQUE (group_id, idempotency_key)
) STRICT;
CREATE INDEX messages_by_age ON messages (received_at);

CREATE TABLE inbox (
    inbox_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id   BLOB NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
    group_id    BLOB NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
    commit_seq  INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    data        BLOB NOT NULL
) STRICT;
CREATE INDEX inbox_by_device ON inbox (device_id, inbox_id);

CREATE TABLE blobs (
    blob_id    BLOB PRIMARY KEY,
    group_id   BLOB NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    data       BLOB NOT NULL
) STRICT;
CREATE INDEX blobs_by_group ON blobs (group_id);
CREATE INDEX blobs_by_age ON blobs (created_at);
