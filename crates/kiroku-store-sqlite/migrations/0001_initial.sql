-- kiroku schema 1 (SQLite). Released migrations are never edited; add a new file instead.
-- Times are UTC microseconds; bodies are RFC 8785 canonical JSON text.

-- The single row that orders all writes: a gap-free write sequence and audit id, and the version of
-- the permission matrix so that every process notices a change.
CREATE TABLE log_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq INTEGER NOT NULL,
    last_event INTEGER NOT NULL,
    matrix_version INTEGER NOT NULL
);
INSERT INTO log_head (id, last_seq, last_event, matrix_version) VALUES (1, 0, 0, 0);

CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL,
    time INTEGER NOT NULL,
    username TEXT,
    role TEXT,
    session TEXT,
    client_addr TEXT,
    action TEXT NOT NULL,
    patient_id TEXT,
    document_id TEXT,
    version INTEGER,
    outcome TEXT NOT NULL,
    detail TEXT,
    content_hash TEXT
);
CREATE INDEX audit_by_patient ON audit_events (patient_id, id);
CREATE INDEX audit_by_user ON audit_events (username, id);
CREATE INDEX audit_by_document ON audit_events (document_id, id);
CREATE INDEX audit_by_time ON audit_events (time);

CREATE TABLE role_grants (
    role TEXT NOT NULL,
    grant_key TEXT NOT NULL,
    PRIMARY KEY (role, grant_key)
);

CREATE TABLE users (
    username TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    must_change_password BOOLEAN NOT NULL,
    disabled BOOLEAN NOT NULL,
    failed_logins INTEGER NOT NULL,
    locked_until INTEGER,
    created_at INTEGER NOT NULL,
    last_login_at INTEGER,
    password_changed_at INTEGER NOT NULL
);

CREATE TABLE password_history (
    username TEXT NOT NULL REFERENCES users (username),
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX password_history_by_user ON password_history (username, created_at);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    username TEXT NOT NULL REFERENCES users (username),
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    client_addr TEXT
);
CREATE INDEX sessions_by_user ON sessions (username);

CREATE TABLE patients (
    patient_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_kana TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    sex TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX patients_by_kana ON patients (name_kana);

-- Current heads: derived state, updated as documents move through their lifecycle.
CREATE TABLE documents (
    id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL REFERENCES patients (patient_id),
    doc_type TEXT NOT NULL,
    title TEXT NOT NULL,
    info_class TEXT NOT NULL,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    entered_by TEXT NOT NULL,
    on_behalf_of TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    confirmed_by TEXT,
    confirmed_at INTEGER
);
CREATE INDEX documents_by_patient ON documents (patient_id, created_at);
CREATE INDEX documents_pending ON documents (on_behalf_of, status);

-- History: append-only. Rows are never updated or deleted by kiroku; the triggers below refuse it.
CREATE TABLE document_versions (
    document_id TEXT NOT NULL REFERENCES documents (id),
    version INTEGER NOT NULL,
    kind TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    doc_type TEXT NOT NULL,
    title TEXT NOT NULL,
    info_class TEXT NOT NULL,
    body TEXT NOT NULL,
    entered_by TEXT NOT NULL,
    on_behalf_of TEXT,
    entered_at INTEGER NOT NULL,
    reason TEXT,
    content_hash TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (document_id, version)
);

CREATE TABLE attestations (
    document_id TEXT NOT NULL REFERENCES documents (id),
    version INTEGER NOT NULL,
    kind TEXT NOT NULL,
    username TEXT NOT NULL,
    at INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (document_id, version, kind)
);

CREATE TABLE attachments (
    id TEXT PRIMARY KEY,
    document_id TEXT NOT NULL REFERENCES documents (id),
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    blob_hash TEXT NOT NULL,
    added_by TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX attachments_by_document ON attachments (document_id);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER versions_no_update BEFORE UPDATE ON document_versions BEGIN SELECT RAISE(ABORT, 'document_versions is append-only'); END;
CREATE TRIGGER versions_no_delete BEFORE DELETE ON document_versions BEGIN SELECT RAISE(ABORT, 'document_versions is append-only'); END;
CREATE TRIGGER attestations_no_update BEFORE UPDATE ON attestations BEGIN SELECT RAISE(ABORT, 'attestations is append-only'); END;
CREATE TRIGGER attestations_no_delete BEFORE DELETE ON attestations BEGIN SELECT RAISE(ABORT, 'attestations is append-only'); END;
CREATE TRIGGER attachments_no_update BEFORE UPDATE ON attachments BEGIN SELECT RAISE(ABORT, 'attachments is append-only'); END;
CREATE TRIGGER attachments_no_delete BEFORE DELETE ON attachments BEGIN SELECT RAISE(ABORT, 'attachments is append-only'); END;
CREATE TRIGGER patients_no_delete BEFORE DELETE ON patients BEGIN SELECT RAISE(ABORT, 'patients are never deleted'); END;
CREATE TRIGGER documents_no_delete BEFORE DELETE ON documents BEGIN SELECT RAISE(ABORT, 'documents are never deleted'); END;
