-- kiroku schema 9: break-glass (緊急時) accounts. Their credentials are made in advance and sealed
-- (kept in an envelope); a login opens the account with a declared reason until `expires_at`, after
-- which it cannot be used until an administrator re-seals it with a new password.
CREATE TABLE break_glass_accounts (
    username TEXT PRIMARY KEY REFERENCES users (username),
    state TEXT NOT NULL,
    sealed_at BIGINT NOT NULL,
    sealed_by TEXT NOT NULL,
    opened_at BIGINT,
    expires_at BIGINT,
    reason TEXT
);
