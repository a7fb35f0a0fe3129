-- 一补 per semester (SPEC §7): per school and term, a line per eligible child (是否享受一补,
-- in grades 1–9) with the semester's meal days it was at school and its pro-rated amount.
CREATE TABLE yibu_periods (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES orgs(id),
    county_code TEXT NOT NULL,
    term TEXT NOT NULL,
    status TEXT NOT NULL,
    term_days INTEGER NOT NULL,
    students INTEGER NOT NULL,
    amount_fen BIGINT NOT NULL,
    adjustment_fen BIGINT NOT NULL,
    computed_by TEXT NOT NULL,
    computed_at TIMESTAMP NOT NULL,
    closed_by TEXT,
    closed_at TIMESTAMP,
    UNIQUE (school_id, term)
);

-- kind 'base' (the term's own) or 'adjustment' (a late change to closed term for_term).
CREATE TABLE yibu_lines (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    period_id BIGINT NOT NULL REFERENCES yibu_periods(id) ON DELETE CASCADE,
    student_id BIGINT NOT NULL REFERENCES students(id),
    kind TEXT NOT NULL,
    for_term TEXT NOT NULL,
    rate_kind TEXT NOT NULL,
    days INTEGER NOT NULL,
    term_days INTEGER NOT NULL,
    amount_fen BIGINT NOT NULL
);
CREATE INDEX yibu_lines_period ON yibu_lines(period_id);
CREATE INDEX yibu_lines_student ON yibu_lines(student_id, for_term);
