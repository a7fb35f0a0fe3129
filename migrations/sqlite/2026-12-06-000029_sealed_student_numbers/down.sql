-- Only for a database whose rows are still plain (the server seals them when it starts).
ALTER TABLE student_merges RENAME COLUMN merged_record_sealed TO merged_record;
ALTER TABLE student_merges RENAME COLUMN merged_student_no_sealed TO merged_student_no;
DROP INDEX students_student_no_hash;
ALTER TABLE students DROP COLUMN student_no_hash;
ALTER TABLE students RENAME COLUMN student_no_sealed TO student_no;
DROP TABLE student_no_counters;
