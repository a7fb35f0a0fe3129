DROP TABLE login_throttle;
DROP TABLE account_requests;
ALTER TABLE users DROP COLUMN created_by;
