-- 陪餐: a school leader eats with the children and records what was served and what they saw.
CREATE TABLE meal_accompany (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES orgs(id),
    day DATE NOT NULL,
    person TEXT NOT NULL,
    post TEXT NOT NULL,
    served TEXT NOT NULL,
    remarks TEXT NOT NULL DEFAULT '',
    recorded_by TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
CREATE INDEX meal_accompany_school_day ON meal_accompany(school_id, day);

-- A school's menu for a week (Monday to Friday), one line per day, as posted for parents.
CREATE TABLE weekly_menus (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES orgs(id),
    week_start DATE NOT NULL,
    monday TEXT NOT NULL DEFAULT '',
    tuesday TEXT NOT NULL DEFAULT '',
    wednesday TEXT NOT NULL DEFAULT '',
    thursday TEXT NOT NULL DEFAULT '',
    friday TEXT NOT NULL DEFAULT '',
    set_by TEXT NOT NULL,
    set_at TIMESTAMP NOT NULL,
    UNIQUE (school_id, week_start)
);
