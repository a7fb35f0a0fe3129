DROP INDEX students_form_key;
ALTER TABLE students DROP COLUMN form_key;
ALTER TABLE status_changes DROP COLUMN arrival_date;
