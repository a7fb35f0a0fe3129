-- Exchange packages between provinces and the centre (跨省查重). A province
-- keeps what it sent and what came back; the centre keeps what it took from each province.

-- A province's packages, numbered 1, 2, 3… per province; the package itself is kept so that it
-- can be fetched again (it holds keyed hashes and figures, never a name or a number).
CREATE TABLE exchange_sent (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    province TEXT NOT NULL,
    seq BIGINT NOT NULL,
    period TEXT NOT NULL,
    digest TEXT NOT NULL,
    children BIGINT NOT NULL,
    without_id BIGINT NOT NULL,
    counties BIGINT NOT NULL,
    package TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX exchange_sent_seq ON exchange_sent(province, seq);

-- The national hash each local child was sent under, so that what the centre sends back names
-- the local child without opening every sealed ID number again.
CREATE TABLE exchange_child_keys (
    student_id BIGINT PRIMARY KEY REFERENCES students(id),
    child_key TEXT NOT NULL
);
CREATE INDEX exchange_child_keys_key ON exchange_child_keys(child_key);

-- Packages the centre sent back, numbered per province by the centre.
CREATE TABLE exchange_received (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    province TEXT NOT NULL,
    seq BIGINT NOT NULL,
    digest TEXT NOT NULL,
    matches BIGINT NOT NULL,
    unknown BIGINT NOT NULL,
    received_by TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX exchange_received_seq ON exchange_received(province, seq);

-- The local children the centre found in another province on common days (the newest return
-- package's picture; the scan's A01 reads them). Days are JSON lists of {from, to}.
CREATE TABLE exchange_matches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_id BIGINT NOT NULL REFERENCES exchange_received(id),
    student_id BIGINT NOT NULL REFERENCES students(id),
    school_id BIGINT NOT NULL REFERENCES orgs(id),
    other_province TEXT NOT NULL,
    active TEXT NOT NULL,
    paid TEXT NOT NULL,
    first_day DATE NOT NULL,
    last_day DATE NOT NULL
);
CREATE INDEX exchange_matches_school ON exchange_matches(school_id, first_day);

-- At the centre: the provinces and the public keys their packages must be signed with.
CREATE TABLE centre_provinces (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    public_key TEXT NOT NULL UNIQUE,
    registered_by TEXT NOT NULL,
    registered_at TIMESTAMP NOT NULL
);

-- Every package taken, in order; a newer package of the same period supersedes the older
-- one's children and figures (the row stays).
CREATE TABLE centre_packages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    province TEXT NOT NULL,
    seq BIGINT NOT NULL,
    period TEXT NOT NULL,
    digest TEXT NOT NULL,
    created_at TEXT NOT NULL,
    children BIGINT NOT NULL,
    counties BIGINT NOT NULL,
    superseded BOOLEAN NOT NULL,
    received_by TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX centre_packages_seq ON centre_packages(province, seq);

CREATE TABLE centre_county_months (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    package_id BIGINT NOT NULL REFERENCES centre_packages(id),
    province TEXT NOT NULL,
    county TEXT NOT NULL,
    month TEXT NOT NULL,
    beneficiaries BIGINT NOT NULL,
    meals BIGINT NOT NULL,
    entitled_fen BIGINT NOT NULL,
    allocated_fen BIGINT NOT NULL,
    spent_fen BIGINT NOT NULL
);
CREATE INDEX centre_county_months_package ON centre_county_months(package_id);
CREATE INDEX centre_county_months_month ON centre_county_months(month, province);

CREATE TABLE centre_children (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    package_id BIGINT NOT NULL REFERENCES centre_packages(id),
    province TEXT NOT NULL,
    child_key TEXT NOT NULL,
    active TEXT NOT NULL,
    paid TEXT NOT NULL
);
CREATE INDEX centre_children_key ON centre_children(child_key, province);
CREATE INDEX centre_children_package ON centre_children(package_id);
CREATE INDEX centre_children_province ON centre_children(province);

-- One child held by two provinces on common days (provinces in code order).
CREATE TABLE centre_claims (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    child_key TEXT NOT NULL,
    province_a TEXT NOT NULL,
    province_b TEXT NOT NULL,
    active TEXT NOT NULL,
    paid TEXT NOT NULL,
    active_days BIGINT NOT NULL,
    paid_days BIGINT NOT NULL,
    found_at TIMESTAMP NOT NULL
);
CREATE INDEX centre_claims_a ON centre_claims(province_a);
CREATE INDEX centre_claims_b ON centre_claims(province_b);

-- The packages sent back to each province, numbered per province.
CREATE TABLE centre_returns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    province TEXT NOT NULL,
    seq BIGINT NOT NULL,
    digest TEXT NOT NULL,
    matches BIGINT NOT NULL,
    package TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX centre_returns_seq ON centre_returns(province, seq);
