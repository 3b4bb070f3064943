-- kiroku schema 2: the Merkle log (RFC 9162). Every row of history (audit events, document
-- versions, attestations, attachments) is a leaf, appended in the transaction that writes the row.

ALTER TABLE log_head ADD COLUMN tree_size BIGINT NOT NULL DEFAULT 0;

-- Leaf i: its hash (hex) and the row it stands for.
CREATE TABLE log_leaves (
    idx BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,
    ref_id TEXT NOT NULL,
    ref_version BIGINT,
    ref_kind TEXT,
    hash TEXT NOT NULL
);
CREATE INDEX log_leaves_by_ref ON log_leaves (kind, ref_id, ref_version);

-- Perfect subtrees above the leaves: node (level, idx) covers leaves [idx << level, (idx + 1) << level).
CREATE TABLE log_nodes (
    level BIGINT NOT NULL,
    idx BIGINT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (level, idx)
);

-- Signed tree heads (C2SP signed-note text in note).
CREATE TABLE checkpoints (
    size BIGINT PRIMARY KEY,
    root TEXT NOT NULL,
    time BIGINT NOT NULL,
    note TEXT NOT NULL
);

CREATE TRIGGER log_leaves_append_only BEFORE UPDATE OR DELETE ON log_leaves FOR EACH ROW EXECUTE FUNCTION kiroku_refuse_change();
CREATE TRIGGER log_nodes_append_only BEFORE UPDATE OR DELETE ON log_nodes FOR EACH ROW EXECUTE FUNCTION kiroku_refuse_change();
CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints FOR EACH ROW EXECUTE FUNCTION kiroku_refuse_change();
