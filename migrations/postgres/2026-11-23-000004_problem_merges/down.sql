DROP TABLE student_merges;
ALTER TABLE students DROP COLUMN duplicate_of;
