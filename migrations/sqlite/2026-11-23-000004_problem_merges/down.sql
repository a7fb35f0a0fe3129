DROP TABLE student_merges;
DROP INDEX students_guardian_id_no;
-- SQLite cannot drop a column that is part of a foreign key; duplicate_of stays (always NULL-able).
