-- The number the public notice gives for complaints: a county's, else the nearest above it.
CREATE TABLE notice_settings (
    org_id BIGINT PRIMARY KEY REFERENCES orgs(id),
    hotline TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at TIMESTAMP NOT NULL
);

-- 举报: from the public notice page (channel public) or entered by the county (channel county),
-- routed to the county of the school; answered there, or turned into an inspection finding.
-- The sender's address is kept only as a keyed hash, to slow down a flood.
CREATE TABLE complaints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tracking_code TEXT NOT NULL UNIQUE,
    school_id BIGINT REFERENCES orgs(id),
    county_id BIGINT NOT NULL REFERENCES orgs(id),
    channel TEXT NOT NULL,
    category TEXT NOT NULL,
    content TEXT NOT NULL,
    anonymous BOOLEAN NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    contact TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    answer TEXT NOT NULL DEFAULT '',
    answered_by TEXT,
    answered_at TIMESTAMP,
    finding_id BIGINT REFERENCES findings(id),
    source_hash TEXT NOT NULL DEFAULT '',
    received_by TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL
);
CREATE INDEX complaints_county ON complaints(county_id, received_at);
CREATE INDEX complaints_source ON complaints(source_hash, received_at);
