-- Invite links (docs/protocol/invites.md §4, server/domain/links.py). The relay
-- keeps an opaque link id, a verifier of the link's capability, the caps and
-- counters, and sealed bytes it cannot open. Every column is listed, with what
-- it reveals, in docs/server/data-inventory.md.

CREATE TABLE links (
    link_id             BLOB PRIMARY KEY,  -- 10 bytes derived from the link's secret
    group_id            BLOB NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
    capability_verifier BLOB NOT NULL,     -- SHA-256 of the capability, labelled
    mode                TEXT NOT NULL CHECK (mode IN ('approval', 'open')),
    expires_at          INTEGER NOT NULL,
    max_uses            INTEGER NOT NULL CHECK (max_uses BETWEEN 1 AND 10000),
    uses                INTEGER NOT NULL DEFAULT 0 CHECK (uses BETWEEN 0 AND max_uses),
    registrations       INTEGER NOT NULL DEFAULT 0
                        CHECK (registrations BETWEEN 0 AND max_uses),
    created_at          INTEGER NOT NULL,
    revoked_at          INTEGER,           -- NULL: not revoked
    preview             BLOB               -- sealed preview; NULL once revoked or expired
) STRICT;
CREATE INDEX links_by_group ON links (group_id, created_at);

CREATE TABLE link_group_info (
    link_id BLOB PRIMARY KEY REFERENCES links (link_id) ON DELETE CASCADE,
    epoch   INTEGER NOT NULL,              -- from the sealed GroupInfo's clear header
    sealed  BLOB NOT NULL
) STRICT;

CREATE TABLE join_requests (
    request_id      BLOB PRIMARY KEY,      -- random, chosen by the relay
    link_id         BLOB NOT NULL REFERENCES links (link_id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,      -- the link's use count once it was queued
    device_id       BLOB NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
    pickup_id       BLOB NOT NULL UNIQUE,
    pickup_verifier BLOB NOT NULL,
    received_at     INTEGER NOT NULL,
    sealed          BLOB NOT NULL,
    UNIQUE (link_id, position)
) STRICT;
CREATE INDEX join_requests_by_device ON join_requests (device_id);
CREATE INDEX join_requests_by_age ON join_requests (received_at);

CREATE TABLE join_declines (
    pickup_id       BLOB PRIMARY KEY,
    pickup_verifier BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    sealed          BLOB NOT NULL
) STRICT;
CREATE INDEX join_declines_by_age ON join_declines (created_at);
