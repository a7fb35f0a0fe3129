-- The enrolled student a problem record (问题学籍) was found to duplicate, so the county can compare
-- the two and merge them. Cleared when the holder is deleted.
ALTER TABLE students ADD COLUMN duplicate_of BIGINT REFERENCES students(id) ON DELETE SET NULL;
-- D3 (suspected duplicate) looks students up by guardian ID, in bulk on import.
CREATE INDEX students_guardian_id_no ON students(guardian_id_no);

-- Provenance of a merge: the record entered twice is removed from the roll, and what it held
-- (its number, school, every field and its history, as JSON) stays here beside the survivor.
CREATE TABLE student_merges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    survivor_id BIGINT NOT NULL REFERENCES students(id),
    merged_student_no TEXT NOT NULL,
    merged_school_id BIGINT NOT NULL REFERENCES orgs(id),
    merged_record TEXT NOT NULL,
    filled_fields TEXT NOT NULL,
    note TEXT NOT NULL,
    merged_by TEXT NOT NULL,
    merged_at TIMESTAMP NOT NULL
);
CREATE INDEX student_merges_survivor ON student_merges (survivor_id);
