DROP TABLE student_merges;
DROP INDEX students_guardian_id_no;
ALTER TABLE students DROP COLUMN duplicate_of;
