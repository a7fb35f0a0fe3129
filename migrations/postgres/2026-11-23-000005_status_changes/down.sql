DROP TABLE student_spells;
DROP TABLE promotions;
ALTER TABLE classes DROP COLUMN graduated_year;
DROP TABLE status_change_steps;
DROP TABLE status_changes;
DROP TABLE workflow_steps;
DROP TABLE transfer_restrictions;
DROP TABLE school_terms;
