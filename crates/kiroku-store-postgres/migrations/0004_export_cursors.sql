-- kiroku schema 4: how far each export of the audit trail has been delivered. The syslog forwarder
-- sends events in id order and moves its cursor forward only after the collector took them, so a
-- restart resumes where delivery stopped; nothing is skipped.

CREATE TABLE export_cursors (
    name TEXT PRIMARY KEY,
    last_id BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
