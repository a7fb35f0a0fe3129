-- Where each chain's keyed part begins (rows before it were sealed with plain SHA-256), and the
-- fingerprint of the key that seals it. Set once: a database already holding rows starts its
-- keyed part after them. Fixed once a key is bound (a restore sets both before that). The anchor
-- file outside the database repeats both.
CREATE TABLE chain_starts (
    chain TEXT PRIMARY KEY NOT NULL,
    keyed_from BIGINT NOT NULL,
    key_id TEXT
);
INSERT INTO chain_starts (chain, keyed_from) SELECT 'audit', COALESCE(MAX(id), 0) + 1 FROM audit_log;
INSERT INTO chain_starts (chain, keyed_from) SELECT 'ledger', COALESCE(MAX(id), 0) + 1 FROM ledger_entries;
CREATE TRIGGER chain_starts_fixed BEFORE UPDATE ON chain_starts
WHEN OLD.key_id IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'chain_starts is set once'); END;
CREATE TRIGGER chain_starts_kept BEFORE DELETE ON chain_starts
BEGIN SELECT RAISE(ABORT, 'chain_starts is set once'); END;
