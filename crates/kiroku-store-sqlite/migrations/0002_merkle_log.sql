-- kiroku schema 2: the Merkle log (RFC 9162). Every row of history (audit events, document
-- versions, attestations, attachments) is a leaf, appended in the transaction that writes the row.

ALTER TABLE log_head ADD COLUMN tree_size INTEGER NOT NULL DEFAULT 0;

-- Leaf i: its hash (hex) and the row it stands for.
CREATE TABLE log_leaves (
    idx INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    ref_id TEXT NOT NULL,
    ref_version INTEGER,
    ref_kind TEXT,
    hash TEXT NOT NULL
);
CREATE INDEX log_leaves_by_ref ON log_leaves (kind, ref_id, ref_version);

-- Perfect subtrees above the leaves: node (level, idx) covers leaves [idx << level, (idx + 1) << level).
CREATE TABLE log_nodes (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (level, idx)
);

-- Signed tree heads (C2SP signed-note text in note).
CREATE TABLE checkpoints (
    size INTEGER PRIMARY KEY,
    root TEXT NOT NULL,
    time INTEGER NOT NULL,
    note TEXT NOT NULL
);

CREATE TRIGGER log_leaves_no_update BEFORE UPDATE ON log_leaves BEGIN SELECT RAISE(ABORT, 'log_leaves is append-only'); END;
CREATE TRIGGER log_leaves_no_delete BEFORE DELETE ON log_leaves BEGIN SELECT RAISE(ABORT, 'log_leaves is append-only'); END;
CREATE TRIGGER log_nodes_no_update BEFORE UPDATE ON log_nodes BEGIN SELECT RAISE(ABORT, 'log_nodes is append-only'); END;
CREATE TRIGGER log_nodes_no_delete BEFORE DELETE ON log_nodes BEGIN SELECT RAISE(ABORT, 'log_nodes is append-only'); END;
CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints BEGIN SELECT RAISE(ABORT, 'checkpoints is append-only'); END;
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints BEGIN SELECT RAISE(ABORT, 'checkpoints is append-only'); END;
