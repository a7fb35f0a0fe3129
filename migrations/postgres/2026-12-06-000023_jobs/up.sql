-- Long work (imports, county printing) as rows: visible from every server on the database, and
-- still there, marked failed with its reason, after the server running it died.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    owner_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    state TEXT NOT NULL,
    stage TEXT NOT NULL,
    done BIGINT NOT NULL,
    total BIGINT,
    error TEXT,
    report_json TEXT,
    error_workbook BYTEA,
    file_name TEXT,
    file_bytes BYTEA,
    input_json TEXT NOT NULL,
    input_bytes BYTEA,
    server_id TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    heartbeat_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    expired BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX jobs_running ON jobs (state, server_id);
CREATE INDEX jobs_owner ON jobs (owner_id, started_at);
