-- An open link's sealed GroupInfo is stored with the log position it was made at
-- (docs/protocol/invites.md §9, server/domain/links.py): the handshake position of
-- the commit that began its epoch, named by the member who stored it. A joiner
-- posts her external commit at that position, so the relay's compare-and-set
-- refuses one built on a stale GroupInfo. GroupInfos stored before this migration
-- have no position: they are dropped; the group's next commit stores a new one.

DELETE FROM link_group_info;
ALTER TABLE link_group_info ADD COLUMN position INTEGER NOT NULL DEFAULT 0
    CHECK (position >= 0);
