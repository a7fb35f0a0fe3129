-- A spot-check plan: a county's term, how the schools were drawn, the seed and the hash of the
-- population it was drawn from (the same seed on the same data draws the same sample).
CREATE TABLE inspection_plans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    term TEXT NOT NULL,
    method TEXT NOT NULL,
    risk_share INTEGER NOT NULL,
    schools INTEGER NOT NULL,
    students INTEGER NOT NULL,
    seed TEXT NOT NULL,
    data_hash TEXT NOT NULL,
    drawn_by TEXT NOT NULL,
    drawn_at TIMESTAMP NOT NULL
);

-- A school drawn in a plan, and what its visit found.
CREATE TABLE inspection_visits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_id BIGINT NOT NULL REFERENCES inspection_plans(id),
    school_id BIGINT NOT NULL REFERENCES orgs(id),
    seq INTEGER NOT NULL,
    risk TEXT,
    status TEXT NOT NULL,
    visited_on DATE,
    visited_by TEXT,
    meals_school INTEGER,
    meals_counted INTEGER,
    note TEXT NOT NULL
);
CREATE INDEX inspection_visits_plan ON inspection_visits(plan_id);

-- The children drawn at a visited school, with what the inspector ticked.
CREATE TABLE inspection_sampled (
    visit_id BIGINT NOT NULL REFERENCES inspection_visits(id),
    seq INTEGER NOT NULL,
    student_id BIGINT NOT NULL REFERENCES students(id),
    present BOOLEAN,
    in_class BOOLEAN,
    eats_here BOOLEAN,
    guardian_confirms BOOLEAN,
    PRIMARY KEY (visit_id, seq)
);
