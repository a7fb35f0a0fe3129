-- The registry's own 学籍号 sealed: a G number is "G" + the child's ID number. A keyed hash
-- beside it finds a number and keeps numbers unique; the highest temporary (L) number handed
-- out per county and birth date moves to a counter of its own, since sealed numbers cannot be
-- compared. What a merge keeps of the merged record (its number, its record and history) is
-- sealed too. The server seals the rows still in plain text when it starts.
CREATE TABLE student_no_counters (
    prefix TEXT PRIMARY KEY NOT NULL,
    highest INTEGER NOT NULL
);
INSERT INTO student_no_counters (prefix, highest)
SELECT substr(student_no, 1, 15), MAX(CAST(substr(student_no, 16) AS INTEGER))
FROM students
WHERE student_no ~ '^L[0-9]{18}$'
GROUP BY substr(student_no, 1, 15);
ALTER TABLE students RENAME COLUMN student_no TO student_no_sealed;
-- Sealed values are unique by their nonces: the hash's index keeps numbers unique instead.
ALTER TABLE students DROP CONSTRAINT IF EXISTS students_student_no_key;
ALTER TABLE students ADD COLUMN student_no_hash TEXT;
CREATE UNIQUE INDEX students_student_no_hash ON students(student_no_hash);
ALTER TABLE student_merges RENAME COLUMN merged_student_no TO merged_student_no_sealed;
ALTER TABLE student_merges RENAME COLUMN merged_record TO merged_record_sealed;
UPDATE sealing SET sealed_at = NULL;
