-- Organisations: ministry → province → prefecture → county → (township) → school.
-- `path` is the chain of codes from the root ("/000000/520000/522300/522326/"),
-- so a scope is a path prefix.
CREATE TABLE orgs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    parent_id BIGINT REFERENCES orgs(id),
    path TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX orgs_parent ON orgs(parent_id);

CREATE TABLE schools (
    org_id BIGINT PRIMARY KEY REFERENCES orgs(id),
    sponsor_type TEXT NOT NULL,
    urban_rural TEXT NOT NULL,
    school_type TEXT NOT NULL,
    in_county_seat BOOLEAN NOT NULL DEFAULT 0,
    address TEXT NOT NULL DEFAULT '',
    postcode TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    fax TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    homepage TEXT NOT NULL DEFAULT '',
    principal_name TEXT NOT NULL DEFAULT '',
    principal_phone TEXT NOT NULL DEFAULT '',
    principal_mobile TEXT NOT NULL DEFAULT '',
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE campuses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES orgs(id),
    campus_no TEXT NOT NULL,
    name TEXT NOT NULL,
    address TEXT NOT NULL DEFAULT '',
    UNIQUE (school_id, campus_no)
);

CREATE TABLE teachers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES orgs(id),
    staff_no TEXT NOT NULL,
    name TEXT NOT NULL,
    sex TEXT NOT NULL,
    phone TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    active BOOLEAN NOT NULL DEFAULT 1,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (school_id, staff_no)
);

CREATE TABLE classes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES orgs(id),
    campus_id BIGINT REFERENCES campuses(id),
    class_no TEXT NOT NULL,
    name TEXT NOT NULL,
    grade INTEGER NOT NULL,
    entry_year INTEGER NOT NULL,
    head_teacher_id BIGINT REFERENCES teachers(id),
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (school_id, class_no)
);
CREATE INDEX classes_school ON classes(school_id);

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    password_hash TEXT NOT NULL,
    must_change_password BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    failed_count INTEGER NOT NULL DEFAULT 0,
    first_failed_at TIMESTAMP,
    locked_until TIMESTAMP,
    totp_secret_enc TEXT,
    totp_last_step BIGINT NOT NULL DEFAULT 0,
    last_login_at TIMESTAMP,
    password_changed_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX users_org ON users(org_id);

CREATE TABLE user_roles (
    user_id BIGINT NOT NULL REFERENCES users(id),
    role TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    ip TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions(user_id);

-- Append-only, hash-chained. The triggers stop the product (and casual hands) from
-- rewriting history; `mealroll audit verify` catches whoever drops them first.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TIMESTAMP NOT NULL,
    actor_user_id BIGINT,
    actor TEXT NOT NULL,
    org_path TEXT NOT NULL,
    ip TEXT NOT NULL,
    action TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    result TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
