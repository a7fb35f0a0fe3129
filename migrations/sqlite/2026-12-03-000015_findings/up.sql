-- A finding: what an inspection established at a school, the money involved, the rectification
-- (整改) the county sets with its deadline, the school's answer, and the second inspector who
-- verified it; with links to the flag or visit it came from and the ledger request or registry
-- change that puts it right.
CREATE TABLE findings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES orgs(id),
    term TEXT NOT NULL,
    visit_id BIGINT REFERENCES inspection_visits(id),
    flag_id BIGINT REFERENCES anomaly_flags(id),
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    description TEXT NOT NULL,
    amount_fen BIGINT,
    status TEXT NOT NULL,
    rectification TEXT,
    deadline DATE,
    answer TEXT,
    recorded_by TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    verified_by TEXT,
    verified_at TIMESTAMP,
    ledger_request_id BIGINT,
    change_request_id BIGINT,
    status_change_id BIGINT
);
CREATE INDEX findings_school ON findings(school_id, term);

CREATE TABLE finding_evidence (
    finding_id BIGINT NOT NULL REFERENCES findings(id),
    attachment_id BIGINT NOT NULL REFERENCES attachments(id),
    PRIMARY KEY (finding_id, attachment_id)
);

CREATE TABLE finding_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    finding_id BIGINT NOT NULL REFERENCES findings(id),
    at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    note TEXT NOT NULL
);
CREATE INDEX finding_events_finding ON finding_events(finding_id);
