DROP TABLE student_merges;
-- SQLite cannot drop a column that is part of a foreign key; duplicate_of stays (always NULL-able).
