-- kiroku schema 6: second factors (TOTP), single-use recovery codes, the second-factor policy of each
-- role, and how far a login session has come (password only, waiting for the second factor, full).

-- One row per authenticator an account enrolled. `secret` is what verification needs (the TOTP
-- key, base32); `last_step` is the last time step accepted, so a code is never accepted twice.
CREATE TABLE second_factors (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES users (username),
    kind TEXT NOT NULL,
    secret TEXT NOT NULL,
    label TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    last_step BIGINT NOT NULL,
    removed_at BIGINT
);
CREATE INDEX second_factors_by_user ON second_factors (username);

-- Recovery codes are stored as SHA-256 hashes and used once.
CREATE TABLE recovery_codes (
    username TEXT NOT NULL REFERENCES users (username),
    code_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (username, code_hash)
);

-- A role without a row is "optional" (the factory default).
CREATE TABLE mfa_policies (
    role TEXT PRIMARY KEY,
    mode TEXT NOT NULL,
    required_from BIGINT,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);

-- staff, maintenance (保守) or break_glass (緊急時).
ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT 'staff';

ALTER TABLE sessions ADD COLUMN stage TEXT NOT NULL DEFAULT 'full';
ALTER TABLE sessions ADD COLUMN second_factor TEXT;
