-- kiroku schema 10: the facility profile and the generated 運用管理規程 (T1-1.1, T1-2.1, T1-2.3, …).
--
-- All three tables are history: append-only, each row a leaf of the log. A profile revision is the
-- whole profile (canonical JSON, hashed); a regulation revision is the whole generated regulation
-- (canonical JSON, hashed) with the profile revision and catalogue edition it came from; an approval
-- names the regulation revision and the hash its approver saw.

CREATE TABLE governance_profiles (
    revision BIGINT PRIMARY KEY,
    facility_class TEXT NOT NULL,    -- 'B' or 'C'
    content TEXT NOT NULL,           -- canonical JSON of the profile
    content_hash TEXT NOT NULL,      -- hex SHA-256 of content
    edited_by TEXT NOT NULL,
    edited_at BIGINT NOT NULL,
    seq BIGINT NOT NULL
);

CREATE TABLE regulation_revisions (
    revision BIGINT PRIMARY KEY,
    profile_revision BIGINT NOT NULL REFERENCES governance_profiles (revision),
    catalogue_edition TEXT NOT NULL,
    content TEXT NOT NULL,           -- canonical JSON of the regulation
    content_hash TEXT NOT NULL,
    generated_by TEXT NOT NULL,
    generated_at BIGINT NOT NULL,
    seq BIGINT NOT NULL
);

CREATE TABLE regulation_approvals (
    revision BIGINT PRIMARY KEY REFERENCES regulation_revisions (revision),
    content_hash TEXT NOT NULL,      -- the approved revision's hash, as the approver saw it
    approved_by TEXT NOT NULL,
    approved_at BIGINT NOT NULL,
    note TEXT NOT NULL,
    seq BIGINT NOT NULL
);

CREATE TRIGGER governance_profiles_append_only BEFORE UPDATE OR DELETE ON governance_profiles FOR EACH ROW EXECUTE FUNCTION kiroku_refuse_change();
CREATE TRIGGER regulation_revisions_append_only BEFORE UPDATE OR DELETE ON regulation_revisions FOR EACH ROW EXECUTE FUNCTION kiroku_refuse_change();
CREATE TRIGGER regulation_approvals_append_only BEFORE UPDATE OR DELETE ON regulation_approvals FOR EACH ROW EXECUTE FUNCTION kiroku_refuse_change();

-- The governance permissions' factory defaults for stores set up before them (a fresh store gets
-- them at bootstrap): administrators manage and read, auditors read.
INSERT INTO role_grants (role, grant_key)
    SELECT r.role, r.grant_key FROM (
        SELECT 'admin' AS role, 'perm:governance.read' AS grant_key
        UNION ALL SELECT 'admin', 'perm:governance.manage'
        UNION ALL SELECT 'auditor', 'perm:governance.read'
    ) r WHERE EXISTS (SELECT 1 FROM users)
    ON CONFLICT DO NOTHING;
UPDATE log_head SET matrix_version = matrix_version + 1 WHERE id = 1;
