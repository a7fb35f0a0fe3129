-- Audit rows older than the retention period (183 days) may move to a signed archive file; the
-- chain then starts from the archive's last hash. The append-only guard lets a row go only
-- once an archive covering it is recorded (the age is checked by the program, on Beijing time).
CREATE TABLE audit_archives (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    from_id BIGINT NOT NULL,
    to_id BIGINT NOT NULL,
    row_count BIGINT NOT NULL,
    last_hash TEXT NOT NULL,
    file TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    archived_at TIMESTAMP NOT NULL,
    archived_by TEXT NOT NULL
);
CREATE TRIGGER audit_archives_no_update BEFORE UPDATE ON audit_archives
BEGIN SELECT RAISE(ABORT, 'audit_archives is append-only'); END;
CREATE TRIGGER audit_archives_no_delete BEFORE DELETE ON audit_archives
BEGIN SELECT RAISE(ABORT, 'audit_archives is append-only'); END;
DROP TRIGGER audit_log_no_delete;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN NOT EXISTS (SELECT 1 FROM audit_archives a WHERE OLD.id <= a.to_id)
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
