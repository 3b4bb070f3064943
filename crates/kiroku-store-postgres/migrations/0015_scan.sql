-- kiroku schema 15: scanned paper (スキャナ読み取り書類, T2-5.1 … T2-5.4).
--
-- Scan document types with their rule (resolution, colour, deadline in working days, what happens
-- to the original), kept as revisions: a change is a new revision, never an update. A scan item is
-- one paper of one patient: registered when it is received (or when it is scanned), with the date
-- the paper was made or received and the deadline the rule gave it. What happens to it afterwards
-- (scanned, with its record and file; the original kept somewhere; its disposal approved) is an
-- event. All three tables are history: append-only, each row a leaf of the log.

CREATE TABLE scan_types (
    code TEXT NOT NULL,
    revision BIGINT NOT NULL,
    name TEXT NOT NULL,
    min_dpi BIGINT NOT NULL,
    colour TEXT NOT NULL,            -- 'colour', 'greyscale' or 'monochrome'
    deadline_days BIGINT NOT NULL,  -- working days after the paper's date
    original TEXT NOT NULL,          -- 'keep' or 'dispose'
    keep_years BIGINT,              -- for 'keep'
    retired BOOLEAN NOT NULL,
    edited_by TEXT NOT NULL,
    edited_at BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (code, revision)
);

CREATE TABLE scan_items (
    id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL REFERENCES patients (patient_id),
    type_code TEXT NOT NULL,
    type_revision BIGINT NOT NULL,
    paper_date TEXT NOT NULL,        -- YYYY-MM-DD, the day the paper was made or received
    due_date TEXT NOT NULL,          -- YYYY-MM-DD, the last day it may be scanned
    registered_by TEXT NOT NULL,
    registered_at BIGINT NOT NULL,
    seq BIGINT NOT NULL
);
CREATE INDEX scan_items_by_patient ON scan_items (patient_id);

CREATE TABLE scan_events (
    id TEXT PRIMARY KEY,
    item_id TEXT NOT NULL REFERENCES scan_items (id),
    kind TEXT NOT NULL,              -- 'scanned', 'original_kept', 'original_disposed'
    document_id TEXT,                -- scanned: the scan record
    attachment_id TEXT,              -- scanned: the file
    detail TEXT NOT NULL,            -- canonical JSON: what the kind records
    username TEXT NOT NULL,
    at BIGINT NOT NULL,
    seq BIGINT NOT NULL
);
CREATE INDEX scan_events_by_item ON scan_events (item_id);

-- A signature of a file (a scanned page) rather than of a version's content: the file's id; the
-- signed bytes are the file's, and content_hash is its SHA-256.
ALTER TABLE signatures ADD COLUMN attachment_id TEXT;

CREATE TRIGGER scan_types_append_only BEFORE UPDATE OR DELETE ON scan_types FOR EACH ROW EXECUTE FUNCTION kiroku_refuse_change();
CREATE TRIGGER scan_items_append_only BEFORE UPDATE OR DELETE ON scan_items FOR EACH ROW EXECUTE FUNCTION kiroku_refuse_change();
CREATE TRIGGER scan_events_append_only BEFORE UPDATE OR DELETE ON scan_events FOR EACH ROW EXECUTE FUNCTION kiroku_refuse_change();

-- The new role's and permissions' factory defaults for stores set up before them (a fresh store
-- gets them at bootstrap).
INSERT INTO role_grants (role, grant_key)
    SELECT r.role, r.grant_key FROM (
        SELECT 'scan_officer' AS role, 'perm:patient.read' AS grant_key
        UNION ALL SELECT 'scan_officer', 'perm:document.read'
        UNION ALL SELECT 'scan_officer', 'perm:scan.read'
        UNION ALL SELECT 'scan_officer', 'perm:scan.write'
        UNION ALL SELECT 'scan_officer', 'perm:scan.manage'
        UNION ALL SELECT 'scan_officer', 'class:normal'
        UNION ALL SELECT 'doctor', 'perm:scan.read'
        UNION ALL SELECT 'nurse', 'perm:scan.read'
        UNION ALL SELECT 'nurse', 'perm:scan.write'
        UNION ALL SELECT 'clerk', 'perm:scan.read'
        UNION ALL SELECT 'clerk', 'perm:scan.write'
    ) r WHERE EXISTS (SELECT 1 FROM users)
    ON CONFLICT DO NOTHING;
UPDATE log_head SET matrix_version = matrix_version + 1 WHERE id = 1;
