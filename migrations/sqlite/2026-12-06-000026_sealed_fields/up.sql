-- Encryption at rest: the ID numbers, the guardian's ID number and phone, and the whole
-- registry record are stored sealed (see domain::field_seal); the columns say so by name, so no
-- query can compare them as plain text. A keyed hash beside each serves exact lookups and the
-- duplicate checks. The server seals rows still in plain text when it starts.
DROP INDEX students_id_no;
DROP INDEX students_guardian_id_no;
ALTER TABLE students RENAME COLUMN id_no TO id_no_sealed;
ALTER TABLE students RENAME COLUMN guardian_id_no TO guardian_id_no_sealed;
ALTER TABLE students RENAME COLUMN guardian_phone TO guardian_phone_sealed;
ALTER TABLE students RENAME COLUMN record TO record_sealed;
ALTER TABLE students ADD COLUMN id_no_hash TEXT;
ALTER TABLE students ADD COLUMN guardian_id_no_hash TEXT;
ALTER TABLE students ADD COLUMN guardian_phone_hash TEXT;
CREATE INDEX students_id_no_hash ON students(id_no_hash);
CREATE INDEX students_guardian_id_no_hash ON students(guardian_id_no_hash);
CREATE INDEX students_guardian_phone_hash ON students(guardian_phone_hash);

-- When the rows written before encryption were sealed (the server does it once, at start).
CREATE TABLE sealing (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    sealed_at TIMESTAMP
);
INSERT INTO sealing (id, sealed_at) VALUES (1, NULL);
