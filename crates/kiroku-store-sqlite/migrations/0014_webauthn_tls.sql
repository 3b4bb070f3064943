-- kiroku schema 14: WebAuthn/FIDO2 credentials (security keys and platform authenticators) as
-- second factors, and the client certificate a session's terminal presented over TLS.

-- One row per registered credential, as registered; never changed. `state` is what verification
-- needs (webauthn-rs's credential as JSON: public key, algorithm, counter at registration).
CREATE TABLE webauthn_credentials (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES users (username),
    label TEXT NOT NULL,
    credential_id TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    counter INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX webauthn_credentials_by_user ON webauthn_credentials (username);

-- What happened to a credential since: each accepted use (with the signature counter it showed and
-- the credential's state after it) and its removal. The current counter is that of the last use, so
-- the counter moves forward without an update in place; the key (credential, n) lets only one
-- writer append the n-th event.
CREATE TABLE webauthn_events (
    credential TEXT NOT NULL REFERENCES webauthn_credentials (id),
    n INTEGER NOT NULL,
    kind TEXT NOT NULL,
    counter INTEGER NOT NULL,
    state TEXT,
    at INTEGER NOT NULL,
    session_id TEXT,
    seq INTEGER NOT NULL,
    PRIMARY KEY (credential, n)
);

-- The subject of the client certificate the terminal presented when the session was opened.
ALTER TABLE sessions ADD COLUMN client_cert TEXT;

CREATE TRIGGER webauthn_credentials_no_update BEFORE UPDATE ON webauthn_credentials BEGIN SELECT RAISE(ABORT, 'webauthn_credentials is append-only'); END;
CREATE TRIGGER webauthn_credentials_no_delete BEFORE DELETE ON webauthn_credentials BEGIN SELECT RAISE(ABORT, 'webauthn_credentials is append-only'); END;
CREATE TRIGGER webauthn_events_no_update BEFORE UPDATE ON webauthn_events BEGIN SELECT RAISE(ABORT, 'webauthn_events is append-only'); END;
CREATE TRIGGER webauthn_events_no_delete BEFORE DELETE ON webauthn_events BEGIN SELECT RAISE(ABORT, 'webauthn_events is append-only'); END;
