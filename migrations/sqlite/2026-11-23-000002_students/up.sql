-- The student registry. `record` holds every field of the national table as JSON (keys of
-- domain::student::FIELDS); the columns beside it repeat what queries and reports filter on.
CREATE TABLE students (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES orgs(id),
    class_id BIGINT REFERENCES classes(id),
    county_code TEXT NOT NULL,
    student_no TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    sex TEXT NOT NULL,
    birth_date DATE NOT NULL,
    id_type TEXT NOT NULL,
    id_no TEXT,
    attendance TEXT NOT NULL,
    yibu BOOLEAN NOT NULL,
    left_behind TEXT NOT NULL,
    migrant BOOLEAN NOT NULL,
    guardian_phone TEXT,
    guardian_id_no TEXT,
    status TEXT NOT NULL,
    review TEXT NOT NULL,
    problem TEXT,
    record TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX students_school ON students(school_id);
CREATE INDEX students_class ON students(class_id);
CREATE INDEX students_county_review ON students(county_code, review);
CREATE INDEX students_id_no ON students(id_no);
CREATE INDEX students_name_birth ON students(name, birth_date);

-- Every change of a field, old and new value, who and why.
CREATE TABLE student_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    student_id BIGINT NOT NULL REFERENCES students(id),
    field TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT,
    reason TEXT NOT NULL,
    actor TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX student_history_student ON student_history(student_id);
