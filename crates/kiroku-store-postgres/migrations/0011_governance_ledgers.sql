-- kiroku schema 11: ledgers (台帳) of the operational items of table 1.
--
-- An entry is its revisions (an edit is a new revision; the newest is the entry) and its events
-- (approve, close, note, loss_reported); files attached to it are blobs by SHA-256. All three
-- tables are history: append-only, each row a leaf of the log. `fields` is the canonical JSON of
-- the revision's values; `content_hash` its hash (also in the audit event); `entry_date` the
-- ledger's date field as YYYY-MM-DD, for periods.
CREATE TABLE ledger_revisions (
    id TEXT NOT NULL,
    revision BIGINT NOT NULL,
    kind TEXT NOT NULL,
    fields TEXT NOT NULL,
    entry_date TEXT,
    content_hash TEXT NOT NULL,
    entered_by TEXT NOT NULL,
    entered_at BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (id, revision)
);
CREATE INDEX ledger_revisions_by_kind ON ledger_revisions (kind, id);
CREATE INDEX ledger_revisions_by_seq ON ledger_revisions (seq);

CREATE TABLE ledger_events (
    entry_id TEXT NOT NULL,
    n BIGINT NOT NULL,
    kind TEXT NOT NULL,
    revision BIGINT NOT NULL,
    note TEXT NOT NULL,
    username TEXT NOT NULL,
    at BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (entry_id, n)
);
CREATE INDEX ledger_events_by_seq ON ledger_events (seq);

CREATE TABLE ledger_attachments (
    id TEXT PRIMARY KEY,
    entry_id TEXT NOT NULL,
    name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    blob_hash TEXT NOT NULL,
    added_by TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    seq BIGINT NOT NULL
);
CREATE INDEX ledger_attachments_by_entry ON ledger_attachments (entry_id);
CREATE INDEX ledger_attachments_by_seq ON ledger_attachments (seq);
CREATE TRIGGER ledger_revisions_append_only BEFORE UPDATE OR DELETE ON ledger_revisions FOR EACH ROW EXECUTE FUNCTION kiroku_refuse_change();
CREATE TRIGGER ledger_events_append_only BEFORE UPDATE OR DELETE ON ledger_events FOR EACH ROW EXECUTE FUNCTION kiroku_refuse_change();
CREATE TRIGGER ledger_attachments_append_only BEFORE UPDATE OR DELETE ON ledger_attachments FOR EACH ROW EXECUTE FUNCTION kiroku_refuse_change();


