-- Only for a database whose rows are still plain (the server seals them when it starts).
ALTER TABLE roster_lines RENAME COLUMN student_no_sealed TO student_no;
