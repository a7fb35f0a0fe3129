-- The programme's configuration (SPEC §5) and the beneficiary rosters (SPEC §6).

-- A county's plan type per school year (国家计划县 …), which decides the central share.
CREATE TABLE county_plans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    school_year INTEGER NOT NULL,
    plan_type TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at TIMESTAMP NOT NULL,
    UNIQUE (org_id, school_year)
);

-- A school's membership of the programme, from a date (to a date). A school in the county seat
-- joins only when the county says so (seat_included).
CREATE TABLE programme_schools (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES orgs(id),
    from_date DATE NOT NULL,
    to_date DATE,
    seat_included BOOLEAN NOT NULL,
    note TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at TIMESTAMP NOT NULL
);
CREATE INDEX programme_schools_school ON programme_schools(school_id);

-- Daily standards in fen, by effective date: the national basic meal standard (no org), local
-- top-ups (province, county or school), and the 一补 per-day rates (per province).
CREATE TABLE subsidy_standards (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id BIGINT REFERENCES orgs(id),
    kind TEXT NOT NULL,
    from_date DATE NOT NULL,
    to_date DATE,
    amount_fen BIGINT NOT NULL,
    note TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at TIMESTAMP NOT NULL
);
CREATE INDEX subsidy_standards_kind ON subsidy_standards(kind, org_id);

-- What the centre pays per plan type: everything, a fixed award per student-day, or nothing.
CREATE TABLE central_shares (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_type TEXT NOT NULL,
    from_date DATE NOT NULL,
    mode TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    UNIQUE (plan_type, from_date)
);

-- Suppliers of the enterprise model (企业(单位)供餐), kept by the county.
CREATE TABLE suppliers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    credit_code TEXT NOT NULL,
    contact TEXT NOT NULL,
    phone TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at TIMESTAMP NOT NULL
);

-- A school's meal models with dates; several at once is 混合, each with the classes it feeds
-- (empty: every class no other model names).
CREATE TABLE meal_models (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES orgs(id),
    model TEXT NOT NULL,
    from_date DATE NOT NULL,
    to_date DATE,
    supplier_id BIGINT REFERENCES suppliers(id),
    class_ids TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at TIMESTAMP NOT NULL
);
CREATE INDEX meal_models_school ON meal_models(school_id);

-- Meal days per month (yyyymm) for an org: '1' per meal day, one character per day of the month.
-- A county's months are its schools' default; a school's own month replaces it.
CREATE TABLE meal_calendars (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    month INTEGER NOT NULL,
    days TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at TIMESTAMP NOT NULL,
    UNIQUE (org_id, month)
);

-- A school's roster for a term: immutable versions, each a snapshot with its content hash.
CREATE TABLE rosters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES orgs(id),
    county_code TEXT NOT NULL,
    school_year INTEGER NOT NULL,
    term INTEGER NOT NULL,
    version INTEGER NOT NULL,
    snapshot_date DATE NOT NULL,
    status TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    student_count INTEGER NOT NULL,
    diff TEXT NOT NULL,
    built_by TEXT NOT NULL,
    built_at TIMESTAMP NOT NULL,
    signed_by TEXT,
    signed_at TIMESTAMP,
    reviewed_by TEXT,
    reviewed_at TIMESTAMP,
    archived_by TEXT,
    archived_at TIMESTAMP,
    UNIQUE (school_id, school_year, term, version)
);
CREATE INDEX rosters_county ON rosters(county_code, school_year, term);

-- The frozen lines: what was true of each child on the snapshot date, as printed.
CREATE TABLE roster_lines (
    roster_id BIGINT NOT NULL REFERENCES rosters(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    student_id BIGINT NOT NULL REFERENCES students(id),
    student_no TEXT NOT NULL,
    name TEXT NOT NULL,
    sex TEXT NOT NULL,
    grade INTEGER NOT NULL,
    class_name TEXT NOT NULL,
    attendance TEXT NOT NULL,
    yibu BOOLEAN NOT NULL,
    left_behind TEXT NOT NULL,
    guardian_name TEXT NOT NULL,
    meal_model TEXT NOT NULL,
    PRIMARY KEY (roster_id, seq)
);

INSERT INTO subsidy_standards (org_id, kind, from_date, to_date, amount_fen, note, set_by, set_at) VALUES
    (NULL, 'meal_base', '2011-09-01', '2014-10-31', 300, '国办发〔2011〕54号', 'system', CURRENT_TIMESTAMP),
    (NULL, 'meal_base', '2014-11-01', '2021-08-31', 400, '2014年11月起', 'system', CURRENT_TIMESTAMP),
    (NULL, 'meal_base', '2021-09-01', NULL, 500, '2021年秋季学期起', 'system', CURRENT_TIMESTAMP),
    (NULL, 'yibu_primary', '2011-09-01', NULL, 400, '小学寄宿生每天4元，全年250天', 'system', CURRENT_TIMESTAMP),
    (NULL, 'yibu_junior', '2011-09-01', NULL, 500, '初中寄宿生每天5元，全年250天', 'system', CURRENT_TIMESTAMP);

INSERT INTO central_shares (plan_type, from_date, mode, amount_fen) VALUES
    ('national', '2011-09-01', 'all', 0),
    ('local_award', '2011-09-01', 'fixed', 300),
    ('local_award', '2021-09-01', 'fixed', 400),
    ('local_no_award', '2011-09-01', 'none', 0),
    ('other', '2011-09-01', 'none', 0);
