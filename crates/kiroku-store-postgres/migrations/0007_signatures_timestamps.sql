-- kiroku schema 7: electronic signatures and RFC 3161 timestamps (T1-4.9, T2-5.3).
--
-- A stamp is one TSA token. A batch stamp covers the Merkle root (RFC 9162 hashing) of the items
-- it stamped; each item keeps its own path to that root, so every version and every signature is
-- verifiable on its own. An archive stamp covers the SHA-256 of an earlier stamp's token and is
-- made before that token's TSA certificate expires (RFC 4998 idea), so the chain of stamps keeps
-- the first one verifiable. All three tables are history: append-only, each row a leaf of the log.

CREATE TABLE timestamps (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,              -- 'batch' or 'archive'
    renews TEXT,                     -- archive: the stamp whose token this one covers
    imprint TEXT NOT NULL,           -- hex SHA-256: the batch root, or the renewed token's hash
    token TEXT NOT NULL,             -- base64 of the DER TimeStampToken, certificates included
    gen_time BIGINT NOT NULL,        -- µs, the TSA's time
    tsa TEXT NOT NULL,               -- the TSA certificate's subject
    tsa_not_after BIGINT NOT NULL,   -- µs, when the TSA certificate expires
    tsa_url TEXT NOT NULL,
    seq BIGINT NOT NULL
);
CREATE INDEX timestamps_by_renews ON timestamps (renews);

-- What a batch stamp covers: 'version' (document_id, version; digest = its content hash) or
-- 'signature' (the signature id, version 0; digest = SHA-256 of the signature's DER).
CREATE TABLE stamp_items (
    item_kind TEXT NOT NULL,
    ref_id TEXT NOT NULL,
    ref_version BIGINT NOT NULL,
    stamp_id TEXT NOT NULL REFERENCES timestamps (id),
    digest TEXT NOT NULL,
    leaf_index BIGINT NOT NULL,
    batch_size BIGINT NOT NULL,
    path TEXT NOT NULL,              -- hex hashes from the leaf upwards, comma separated
    seq BIGINT NOT NULL,
    PRIMARY KEY (item_kind, ref_id, ref_version)
);

-- Detached CMS (CAdES-BES) signatures of confirmed versions, made by their signer's key.
CREATE TABLE signatures (
    id TEXT PRIMARY KEY,
    document_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    username TEXT NOT NULL,
    signature TEXT NOT NULL,         -- base64 of the DER SignedData, certificates included
    signer TEXT NOT NULL,            -- the signing certificate's subject
    certificate_serial TEXT NOT NULL,
    certificate_not_after BIGINT NOT NULL,
    hc_roles TEXT NOT NULL,          -- HPKI roles of the certificate, JSON list
    content_hash TEXT NOT NULL,      -- the version's content hash, which the signed bytes hash to
    signature_hash TEXT NOT NULL,    -- hex SHA-256 of the signature's DER: what its timestamp covers
    signed_at BIGINT NOT NULL,
    seq BIGINT NOT NULL
);
CREATE INDEX signatures_by_version ON signatures (document_id, version);

CREATE TRIGGER timestamps_append_only BEFORE UPDATE OR DELETE ON timestamps FOR EACH ROW EXECUTE FUNCTION kiroku_refuse_change();
CREATE TRIGGER stamp_items_append_only BEFORE UPDATE OR DELETE ON stamp_items FOR EACH ROW EXECUTE FUNCTION kiroku_refuse_change();
CREATE TRIGGER signatures_append_only BEFORE UPDATE OR DELETE ON signatures FOR EACH ROW EXECUTE FUNCTION kiroku_refuse_change();
