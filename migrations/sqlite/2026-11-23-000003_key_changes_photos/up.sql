-- The key-information lock (到期即锁): a date per school year set by an org for its schools; the
-- earliest date of a school's ancestors holds, and their extra locked fields add up.
CREATE TABLE key_locks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    school_year INTEGER NOT NULL,
    lock_date DATE NOT NULL,
    extra_fields TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at TIMESTAMP NOT NULL,
    UNIQUE (org_id, school_year)
);

-- Uploaded evidence (证明材料), kept as sent.
CREATE TABLE attachments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    bytes BLOB NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at TIMESTAMP NOT NULL
);

-- A request to change locked key fields: school review, then county approval; applied only at
-- the end of the chain. changes: JSON {field: [old, new]}.
CREATE TABLE change_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    student_id BIGINT NOT NULL REFERENCES students(id),
    school_id BIGINT NOT NULL REFERENCES orgs(id),
    changes TEXT NOT NULL,
    reason TEXT NOT NULL,
    evidence_id BIGINT NOT NULL REFERENCES attachments(id),
    status TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at TIMESTAMP NOT NULL,
    school_by TEXT,
    school_at TIMESTAMP,
    school_note TEXT,
    county_by TEXT,
    county_at TIMESTAMP,
    county_note TEXT
);
CREATE INDEX change_requests_school ON change_requests(school_id, status);
CREATE INDEX change_requests_student ON change_requests(student_id);

-- One photo per student (JPEG as uploaded, after the SPEC §4 checks).
CREATE TABLE student_photos (
    student_id BIGINT PRIMARY KEY REFERENCES students(id),
    bytes BLOB NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at TIMESTAMP NOT NULL
);
