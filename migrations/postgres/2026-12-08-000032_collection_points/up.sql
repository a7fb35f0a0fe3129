-- Collection points (单机版数据采集点): a stand-alone SQLite instance collecting for some of a
-- county's schools sends its work to the county's network instance in sealed, numbered packages.

-- At the county: each point, the schools it collects for (a JSON list of school codes) and the
-- pairing key its packages are sealed under (sealed at rest like the children's numbers).
CREATE TABLE collect_points (
    id BIGSERIAL PRIMARY KEY,
    county_code TEXT NOT NULL,
    name TEXT NOT NULL UNIQUE,
    schools TEXT NOT NULL,
    key_sealed TEXT NOT NULL,
    registered_by TEXT NOT NULL,
    registered_at TIMESTAMP NOT NULL
);

-- Every package taken from a point, in order, with what it did (a JSON summary).
CREATE TABLE collect_packages (
    id BIGSERIAL PRIMARY KEY,
    point_id BIGINT NOT NULL REFERENCES collect_points(id),
    seq BIGINT NOT NULL,
    digest TEXT NOT NULL,
    created_at TEXT NOT NULL,
    summary TEXT NOT NULL,
    received_by TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX collect_packages_seq ON collect_packages(point_id, seq);

-- Which network child a point's child is, once known.
CREATE TABLE collect_children (
    point_id BIGINT NOT NULL REFERENCES collect_points(id),
    point_student BIGINT NOT NULL,
    student_id BIGINT NOT NULL REFERENCES students(id),
    PRIMARY KEY (point_id, point_student)
);

-- What a package could not apply by itself, for a person to decide: a field both sides changed
-- (kind 'field'), term dates or a day's meals that differ ('term', 'meals'), a child's change
-- the network refused ('refused'), a status change asked for at the point ('status').
-- Values of sealed fields are sealed as the field history seals them.
CREATE TABLE collect_items (
    id BIGSERIAL PRIMARY KEY,
    point_id BIGINT NOT NULL REFERENCES collect_points(id),
    package_seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    school_code TEXT NOT NULL,
    student_id BIGINT REFERENCES students(id),
    subject TEXT NOT NULL,
    field TEXT NOT NULL,
    base_value TEXT,
    theirs TEXT,
    ours TEXT,
    state TEXT NOT NULL,
    decided_by TEXT,
    decided_at TIMESTAMP,
    note TEXT NOT NULL
);
CREATE INDEX collect_items_state ON collect_items(state, school_code);

-- At the point: the county it is paired with, its name there, its schools (JSON) and the
-- pairing key (one row).
CREATE TABLE collect_pairing (
    id INTEGER PRIMARY KEY,
    county_code TEXT NOT NULL,
    point TEXT NOT NULL,
    schools TEXT NOT NULL,
    key_sealed TEXT NOT NULL,
    paired_by TEXT NOT NULL,
    paired_at TIMESTAMP NOT NULL
);

-- At the point: every package made, kept so it can be fetched again (it is sealed).
CREATE TABLE collect_sent (
    id BIGSERIAL PRIMARY KEY,
    seq BIGINT NOT NULL UNIQUE,
    since TIMESTAMP NOT NULL,
    cut TIMESTAMP NOT NULL,
    children BIGINT NOT NULL,
    package TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
