DROP TABLE student_history;
DROP TABLE students;
