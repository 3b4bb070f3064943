-- kiroku schema 5: operations.
--
-- Emergency read-only mode (縮退運用) lives on the log head row, which every write batch locks
-- first: every process sharing the database sees the mode at its next batch, and a restart keeps
-- it. NULL since: normal operation. Entering and leaving are audit events (emergency_mode_enter,
-- emergency_mode_leave); these columns hold only the current state.
ALTER TABLE log_head ADD COLUMN emergency_since INTEGER;
ALTER TABLE log_head ADD COLUMN emergency_reason TEXT;
ALTER TABLE log_head ADD COLUMN emergency_by TEXT;

-- The location register's entries that kiroku cannot see by itself (a paper archive, media kept in
-- a safe, a remote site). Never edited in place: every change is a new revision, a removal is a
-- revision with retired set; the newest revision of an id is the entry.
CREATE TABLE location_entries (
    id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    place TEXT NOT NULL,
    capacity TEXT NOT NULL,
    retention TEXT NOT NULL,
    backup TEXT NOT NULL,
    response_time TEXT NOT NULL,
    risks TEXT NOT NULL,
    retired BOOLEAN NOT NULL,
    edited_by TEXT NOT NULL,
    edited_at INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (id, revision)
);
CREATE TRIGGER location_entries_no_update BEFORE UPDATE ON location_entries BEGIN SELECT RAISE(ABORT, 'location_entries is append-only'); END;
CREATE TRIGGER location_entries_no_delete BEFORE DELETE ON location_entries BEGIN SELECT RAISE(ABORT, 'location_entries is append-only'); END;

-- The new permissions' factory defaults for stores set up before them (a fresh store gets them at
-- bootstrap): administrators switch the mode and edit the register, auditors read it.
INSERT INTO role_grants (role, grant_key)
    SELECT r.role, r.grant_key FROM (
        SELECT 'admin' AS role, 'perm:ops.read' AS grant_key
        UNION ALL SELECT 'admin', 'perm:ops.manage'
        UNION ALL SELECT 'auditor', 'perm:ops.read'
    ) r WHERE EXISTS (SELECT 1 FROM users)
    ON CONFLICT DO NOTHING;
UPDATE log_head SET matrix_version = matrix_version + 1 WHERE id = 1;
