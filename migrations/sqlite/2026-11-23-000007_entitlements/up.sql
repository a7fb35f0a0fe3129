-- Meal-subsidy entitlements (SPEC §7): per school per month, with a line per child that names
-- the days, so every total drills down to children and days.

-- A county's counting rule: 'day' (default) or 'month' (leaving in a month removes the month).
CREATE TABLE entitlement_rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id BIGINT NOT NULL UNIQUE REFERENCES orgs(id),
    rule TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at TIMESTAMP NOT NULL
);

CREATE TABLE entitlement_periods (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES orgs(id),
    county_code TEXT NOT NULL,
    month INTEGER NOT NULL,
    rule TEXT NOT NULL,
    status TEXT NOT NULL,
    students INTEGER NOT NULL,
    beneficiary_days INTEGER NOT NULL,
    amount_fen BIGINT NOT NULL,
    adjustment_fen BIGINT NOT NULL,
    computed_by TEXT NOT NULL,
    computed_at TIMESTAMP NOT NULL,
    closed_by TEXT,
    closed_at TIMESTAMP,
    UNIQUE (school_id, month)
);
CREATE INDEX entitlement_periods_county ON entitlement_periods(county_code, month);

-- kind 'base': the month's own entitlement (replaced while the month is open);
-- kind 'adjustment': a late change to a closed month (for_month), booked in a later open month.
CREATE TABLE entitlement_lines (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    period_id BIGINT NOT NULL REFERENCES entitlement_periods(id) ON DELETE CASCADE,
    student_id BIGINT NOT NULL REFERENCES students(id),
    kind TEXT NOT NULL,
    for_month INTEGER NOT NULL,
    days INTEGER NOT NULL,
    day_list TEXT NOT NULL,
    amount_fen BIGINT NOT NULL
);
CREATE INDEX entitlement_lines_period ON entitlement_lines(period_id);
CREATE INDEX entitlement_lines_student ON entitlement_lines(student_id, for_month);
