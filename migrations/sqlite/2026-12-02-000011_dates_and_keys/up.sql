-- A transfer has a leaving day (effective_date, the first day away from the old school) and an
-- arrival day (the first day at the new one); the days between count at neither school.
ALTER TABLE status_changes ADD COLUMN arrival_date DATE;
UPDATE status_changes SET arrival_date = effective_date WHERE kind = '21';

-- The one-time key of the registration form that created a student: the same form sent twice
-- (back, then submit again) registers the child once.
ALTER TABLE students ADD COLUMN form_key TEXT;
CREATE UNIQUE INDEX students_form_key ON students(form_key) WHERE form_key IS NOT NULL;
