-- The group's log heads follow its log: appending a message advances head_seq
-- (and handshake_seq for proposals and commits) in the same statement, so the
-- sequencing transaction needs one statement fewer under the write lock.
CREATE TRIGGER messages_advance_heads AFTER INSERT ON messages
BEGIN
    UPDATE groups
    SET head_seq = NEW.seq,
        handshake_seq = CASE WHEN NEW.handshake = 1 THEN NEW.seq ELSE handshake_seq END
    WHERE group_id = NEW.group_id;
END;
