-- Only for a database whose rows are still plain (the server seals them when it starts).
DROP TABLE sealing;
DROP INDEX students_guardian_phone_hash;
DROP INDEX students_guardian_id_no_hash;
DROP INDEX students_id_no_hash;
ALTER TABLE students DROP COLUMN guardian_phone_hash;
ALTER TABLE students DROP COLUMN guardian_id_no_hash;
ALTER TABLE students DROP COLUMN id_no_hash;
ALTER TABLE students RENAME COLUMN record_sealed TO record;
ALTER TABLE students RENAME COLUMN guardian_phone_sealed TO guardian_phone;
ALTER TABLE students RENAME COLUMN guardian_id_no_sealed TO guardian_id_no;
ALTER TABLE students RENAME COLUMN id_no_sealed TO id_no;
CREATE INDEX students_id_no ON students(id_no);
CREATE INDEX students_guardian_id_no ON students(guardian_id_no);
