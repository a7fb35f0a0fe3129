-- A G 学籍号 is "G" + the child's ID number: the roster's frozen lines keep it sealed, and so
-- does the registry's field history of student numbers (the server seals both when it starts).
ALTER TABLE roster_lines RENAME COLUMN student_no TO student_no_sealed;
UPDATE sealing SET sealed_at = NULL;
