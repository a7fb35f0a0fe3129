-- The children a school names absent on a day's record: they did not eat, so the class's count
-- can be at most its eligible children less those named.
CREATE TABLE daily_meal_absences (
    id BIGSERIAL PRIMARY KEY,
    daily_meal_id BIGINT NOT NULL REFERENCES daily_meals(id) ON DELETE CASCADE,
    student_id BIGINT NOT NULL REFERENCES students(id),
    UNIQUE (daily_meal_id, student_id)
);
CREATE INDEX daily_meal_absences_student ON daily_meal_absences(student_id);

-- A county's (or province's) daily deadline for the records of its schools, HH:MM Beijing time;
-- the nearest setting on a school's path applies, else 14:00.
CREATE TABLE meal_settings (
    id BIGSERIAL PRIMARY KEY,
    org_id BIGINT NOT NULL UNIQUE REFERENCES orgs(id),
    deadline TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at TIMESTAMP NOT NULL
);

-- A correction of a day whose month's subsidy is closed waits for the county's approval:
-- the changes as asked (JSON: class, count, children named absent), the reason, the decision.
CREATE TABLE meal_corrections (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES orgs(id),
    day DATE NOT NULL,
    changes TEXT NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at TIMESTAMP NOT NULL,
    decided_by TEXT,
    decided_at TIMESTAMP,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX meal_corrections_school ON meal_corrections(school_id, status);
