-- kiroku schema 1 (PostgreSQL). Released migrations are never edited; add a new file instead.
-- Times are UTC microseconds; bodies are RFC 8785 canonical JSON text.

-- The single row that orders all writes: a gap-free write sequence and audit id, and the version of
-- the permission matrix so that every process notices a change.
CREATE TABLE log_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    last_seq BIGINT NOT NULL,
    last_event BIGINT NOT NULL,
    matrix_version BIGINT NOT NULL
);
INSERT INTO log_head (id, last_seq, last_event, matrix_version) VALUES (1, 0, 0, 0);

CREATE TABLE audit_events (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    time BIGINT NOT NULL,
    username TEXT,
    role TEXT,
    session TEXT,
    client_addr TEXT,
    action TEXT NOT NULL,
    patient_id TEXT,
    document_id TEXT,
    version BIGINT,
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
    failed_logins BIGINT NOT NULL,
    locked_until BIGINT,
    created_at BIGINT NOT NULL,
    last_login_at BIGINT,
    password_changed_at BIGINT NOT NULL
);

CREATE TABLE password_history (
    username TEXT NOT NULL REFERENCES users (username),
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX password_history_by_user ON password_history (username, created_at);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    username TEXT NOT NULL REFERENCES users (username),
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    client_addr TEXT
);
CREATE INDEX sessions_by_user ON sessions (username);

CREATE TABLE patients (
    patient_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_kana TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    sex TEXT NOT NULL,
    created_at BIGINT NOT NULL,
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
    version BIGINT NOT NULL,
    entered_by TEXT NOT NULL,
    on_behalf_of TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    confirmed_by TEXT,
    confirmed_at BIGINT
);
CREATE INDEX documents_by_patient ON documents (patient_id, created_at);
CREATE INDEX documents_pending ON documents (on_behalf_of, status);

-- History: append-only. Rows are never updated or deleted by kiroku; the triggers below refuse it.
CREATE TABLE document_versions (
    document_id TEXT NOT NULL REFERENCES documents (id),
    version BIGINT NOT NULL,
    kind TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    doc_type TEXT NOT NULL,
    title TEXT NOT NULL,
    info_class TEXT NOT NULL,
    body TEXT NOT NULL,
    entered_by TEXT NOT NULL,
    on_behalf_of TEXT,
    entered_at BIGINT NOT NULL,
    reason TEXT,
    content_hash TEXT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (document_id, version)
);

CREATE TABLE attestations (
    document_id TEXT NOT NULL REFERENCES documents (id),
    version BIGINT NOT NULL,
    kind TEXT NOT NULL,
    username TEXT NOT NULL,
    at BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (document_id, version, kind)
);

CREATE TABLE attachments (
    id TEXT PRIMARY KEY,
    document_id TEXT NOT NULL REFERENCES documents (id),
    version BIGINT NOT NULL,
    name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    blob_hash TEXT NOT NULL,
    added_by TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    seq BIGINT NOT NULL
);
CREATE INDEX attachments_by_document ON attachments (document_id);

CREATE FUNCTION kiroku_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events FOR EACH ROW EXECUTE FUNCTION kiroku_refuse_change();
CREATE TRIGGER versions_append_only BEFORE UPDATE OR DELETE ON document_versions FOR EACH ROW EXECUTE FUNCTION kiroku_refuse_change();
CREATE TRIGGER attestations_append_only BEFORE UPDATE OR DELETE ON attestations FOR EACH ROW EXECUTE FUNCTION kiroku_refuse_change();
CREATE TRIGGER attachments_append_only BEFORE UPDATE OR DELETE ON attachments FOR EACH ROW EXECUTE FUNCTION kiroku_refuse_change();
CREATE TRIGGER patients_never_deleted BEFORE DELETE ON patients FOR EACH ROW EXECUTE FUNCTION kiroku_refuse_change();
CREATE TRIGGER documents_never_deleted BEFORE DELETE ON documents FOR EACH ROW EXECUTE FUNCTION kiroku_refuse_change();
