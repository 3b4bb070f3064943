-- kiroku schema 13: vendor maintenance (work orders and their sign-offs), API tokens of
-- integrations, resets of lost second factors, and staff marked as left (access review).

-- A work order (作業指示) under which a maintenance account may work: never edited; its sessions
-- carry its id in theirs ("wo-<id>-..."), so every audit event of the work names the order.
CREATE TABLE work_orders (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL REFERENCES users (username),
    vendor TEXT NOT NULL,
    purpose TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    scope TEXT NOT NULL,
    networks TEXT NOT NULL,
    supervisor TEXT NOT NULL REFERENCES users (username),
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    seq BIGINT NOT NULL
);
CREATE INDEX work_orders_by_account ON work_orders (account, starts_at);

-- The supervisor's sign-off of an order's check-off list (作業報告確認), bound to its hash.
CREATE TABLE work_order_signoffs (
    order_id TEXT PRIMARY KEY REFERENCES work_orders (id),
    signed_by TEXT NOT NULL,
    signed_at BIGINT NOT NULL,
    report_hash TEXT NOT NULL,
    comment TEXT NOT NULL,
    seq BIGINT NOT NULL
);

-- API tokens: only the SHA-256 of the token is kept. revoked_at is the one column that changes.
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES users (username),
    token_hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_by TEXT
);

-- Resets of lost second factors: issued, approved by a second administrator, used once. Only the
-- code's SHA-256 is kept; every step is an audit event.
CREATE TABLE factor_resets (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES users (username),
    code_hash TEXT NOT NULL,
    issued_by TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    approved_by TEXT,
    approved_at BIGINT,
    used_at BIGINT
);

-- Staff marked as left (退職), for the access review; the newest marker of an account counts.
CREATE TABLE staff_left (
    username TEXT NOT NULL REFERENCES users (username),
    left_on TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (username, seq)
);
CREATE TRIGGER work_orders_append_only BEFORE UPDATE OR DELETE ON work_orders FOR EACH ROW EXECUTE FUNCTION kiroku_refuse_change();
CREATE TRIGGER work_order_signoffs_append_only BEFORE UPDATE OR DELETE ON work_order_signoffs FOR EACH ROW EXECUTE FUNCTION kiroku_refuse_change();
CREATE TRIGGER staff_left_append_only BEFORE UPDATE OR DELETE ON staff_left FOR EACH ROW EXECUTE FUNCTION kiroku_refuse_change();
