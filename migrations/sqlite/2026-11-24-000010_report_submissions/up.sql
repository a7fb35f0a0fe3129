-- Submitted statutory reports (SPEC §9): an immutable snapshot of the drawn report (its JSON,
-- with the content hash and the diff against the org's previous version of the same report
-- and period); only the decision of the level above is written later, once.
CREATE TABLE report_submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    report TEXT NOT NULL,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    period TEXT NOT NULL,
    report_date DATE NOT NULL,
    version INTEGER NOT NULL,
    content TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    diff TEXT NOT NULL,
    due_date DATE NOT NULL,
    submitted_by TEXT NOT NULL,
    submitted_at TIMESTAMP NOT NULL,
    status TEXT NOT NULL,
    decided_by TEXT,
    decided_at TIMESTAMP,
    decision_note TEXT NOT NULL DEFAULT '',
    UNIQUE (report, org_id, period, version)
);
CREATE INDEX report_submissions_period ON report_submissions(report, period);
