-- 就餐日报: for each meal day and class, how many children ate, against the children of the class
-- eligible that day (kept as counted when recorded). Recorded after the day's deadline it is
-- marked late; corrected after the day it keeps the reason (the audit log keeps the before).
CREATE TABLE daily_meals (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES orgs(id),
    class_id BIGINT NOT NULL REFERENCES classes(id),
    day DATE NOT NULL,
    eligible INTEGER NOT NULL,
    ate INTEGER NOT NULL,
    late BOOLEAN NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    recorded_by TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    UNIQUE (class_id, day)
);
CREATE INDEX daily_meals_school_day ON daily_meals(school_id, day);
