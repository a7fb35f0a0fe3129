-- A county may require that a roster's 审核 and 备案 are done by two different people.
CREATE TABLE roster_settings (
    org_id BIGINT PRIMARY KEY REFERENCES orgs(id),
    two_person BOOLEAN NOT NULL,
    set_by TEXT NOT NULL,
    set_at TIMESTAMP NOT NULL
);
