-- kiroku schema 16: validation data kept with each signature and timestamp (CAdES-X-L idea).
--
-- At signing and stamping time kiroku keeps the certificates of the path (leaf to trust anchor)
-- and the revocation answers it obtained for them (a CRL or an OCSP response, DER as received),
-- so that verification years later decides with the same evidence when the CA's servers are
-- gone. History: append-only, each row a leaf of the log, written in the same transaction as the
-- signature or timestamp it belongs to.

CREATE TABLE validation_evidence (
    id TEXT PRIMARY KEY,
    owner_kind TEXT NOT NULL,        -- 'signature' or 'timestamp'
    owner_id TEXT NOT NULL,          -- the signature's or timestamp's id
    kind TEXT NOT NULL,              -- 'certificate', 'crl' or 'ocsp'
    about TEXT NOT NULL,             -- subject of the certificate it is, or speaks about
    der TEXT NOT NULL,               -- base64 of the DER as received
    source TEXT NOT NULL,            -- the URL or file it came from ('path' for certificates)
    obtained_at BIGINT NOT NULL,      -- µs, when kiroku obtained it: its freshness is judged then
    seq BIGINT NOT NULL
);
CREATE INDEX validation_evidence_by_owner ON validation_evidence (owner_kind, owner_id);

CREATE TRIGGER validation_evidence_append_only BEFORE UPDATE OR DELETE ON validation_evidence FOR EACH ROW EXECUTE FUNCTION kiroku_refuse_change();
