-- Where each chain's keyed part begins (rows before it were sealed with plain SHA-256), and the
-- fingerprint of the key that seals it. Set once: a database already holding rows starts its
-- keyed part after them. Fixed once a key is bound (a restore sets both before that). The anchor
-- file outside the database repeats both.
CREATE TABLE chain_starts (
    chain TEXT PRIMARY KEY,
    keyed_from BIGINT NOT NULL,
    key_id TEXT
);
INSERT INTO chain_starts (chain, keyed_from) SELECT 'audit', COALESCE(MAX(id), 0) + 1 FROM audit_log;
INSERT INTO chain_starts (chain, keyed_from) SELECT 'ledger', COALESCE(MAX(id), 0) + 1 FROM ledger_entries;
CREATE FUNCTION chain_starts_set_once() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.key_id IS NOT NULL THEN
        RAISE EXCEPTION 'chain_starts is set once';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER chain_starts_fixed BEFORE UPDATE OR DELETE ON chain_starts
FOR EACH ROW EXECUTE FUNCTION chain_starts_set_once();
