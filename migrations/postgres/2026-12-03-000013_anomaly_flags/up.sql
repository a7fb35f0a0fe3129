-- Thresholds and severities of the anomaly rules as a province or county sets them. Rows are
-- only added: the newest row of the nearest org wins, and the rest is the history.
CREATE TABLE anomaly_settings (
    id BIGSERIAL PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    rule TEXT NOT NULL,
    threshold TEXT,
    severity TEXT,
    note TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at TIMESTAMP NOT NULL
);
CREATE INDEX anomaly_settings_org ON anomaly_settings(org_id, rule);

-- A flag a term's scan raised, kept with its state so that people can answer and decide it; the
-- fingerprint names what it is about (rule, org, child, month, ...), so a rescan finds it again
-- and one that no longer finds it closes it.
CREATE TABLE anomaly_flags (
    id BIGSERIAL PRIMARY KEY,
    term TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    rule TEXT NOT NULL,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    org_path TEXT NOT NULL,
    student_id BIGINT,
    month INTEGER,
    severity TEXT NOT NULL,
    amount_fen BIGINT,
    message TEXT NOT NULL,
    state TEXT NOT NULL,
    holds BOOLEAN NOT NULL,
    first_seen_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX anomaly_flags_what ON anomaly_flags(term, fingerprint);
CREATE INDEX anomaly_flags_path ON anomaly_flags(org_path, state);

-- The last stored scan of a county's term, and the audit row it saw: a newer audit row (any
-- change anywhere) makes the next look rescan first.
CREATE TABLE anomaly_scans (
    id BIGSERIAL PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    term TEXT NOT NULL,
    audit_id BIGINT NOT NULL,
    flags INTEGER NOT NULL,
    scanned_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX anomaly_scans_what ON anomaly_scans(org_id, term);

-- Every step of a flag: raised, answered, decided, closed by a rescan, raised again.
CREATE TABLE anomaly_flag_events (
    id BIGSERIAL PRIMARY KEY,
    flag_id BIGINT NOT NULL REFERENCES anomaly_flags(id),
    at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    note TEXT NOT NULL
);
CREATE INDEX anomaly_flag_events_flag ON anomaly_flag_events(flag_id);
