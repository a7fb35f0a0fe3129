DROP TABLE student_photos;
DROP TABLE change_requests;
DROP TABLE attachments;
DROP TABLE key_locks;
