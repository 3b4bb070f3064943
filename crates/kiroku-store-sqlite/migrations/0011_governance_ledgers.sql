-- kiroku schema 11: ledgers (台帳) of the operational items of table 1.
--
-- An entry is its revisions (an edit is a new revision; the newest is the entry) and its events
-- (approve, close, note, loss_reported); files attached to it are blobs by SHA-256. All three
-- tables are history: append-only, each row a leaf of the log. `fields` is the canonical JSON of
-- the revision's values; `content_hash` its hash (also in the audit event); `entry_date` the
-- ledger's date field as YYYY-MM-DD, for periods.
CREATE TABLE ledger_revisions (
    id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    kind TEXT NOT NULL,
    fields TEXT NOT NULL,
    entry_date TEXT,
    content_hash TEXT NOT NULL,
    entered_by TEXT NOT NULL,
    entered_at INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (id, revision)
);
CREATE INDEX ledger_revisions_by_kind ON ledger_revisions (kind, id);
CREATE INDEX ledger_revisions_by_seq ON ledger_revisions (seq);

CREATE TABLE ledger_events (
    entry_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    kind TEXT NOT NULL,
    revision INTEGER NOT NULL,
    note TEXT NOT NULL,
    username TEXT NOT NULL,
    at INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (entry_id, n)
);
CREATE INDEX ledger_events_by_seq ON ledger_events (seq);

CREATE TABLE ledger_attachments (
    id TEXT PRIMARY KEY,
    entry_id TEXT NOT NULL,
    name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    blob_hash TEXT NOT NULL,
    added_by TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX ledger_attachments_by_entry ON ledger_attachments (entry_id);
CREATE INDEX ledger_attachments_by_seq ON ledger_attachments (seq);

CREATE TRIGGER ledger_revisions_no_update BEFORE UPDATE ON ledger_revisions BEGIN SELECT RAISE(ABORT, 'ledger_revisions is append-only'); END;
CREATE TRIGGER ledger_revisions_no_delete BEFORE DELETE ON ledger_revisions BEGIN SELECT RAISE(ABORT, 'ledger_revisions is append-only'); END;
CREATE TRIGGER ledger_events_no_update BEFORE UPDATE ON ledger_events BEGIN SELECT RAISE(ABORT, 'ledger_events is append-only'); END;
CREATE TRIGGER ledger_events_no_delete BEFORE DELETE ON ledger_events BEGIN SELECT RAISE(ABORT, 'ledger_events is append-only'); END;
CREATE TRIGGER ledger_attachments_no_update BEFORE UPDATE ON ledger_attachments BEGIN SELECT RAISE(ABORT, 'ledger_attachments is append-only'); END;
CREATE TRIGGER ledger_attachments_no_delete BEFORE DELETE ON ledger_attachments BEGIN SELECT RAISE(ABORT, 'ledger_attachments is append-only'); END;

