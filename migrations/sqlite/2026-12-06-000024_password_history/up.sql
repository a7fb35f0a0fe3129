-- The hashes of a user's previous passwords (the newest four; with the current one, five), so a
-- new password cannot be one of the last five.
CREATE TABLE password_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id),
    password_hash TEXT NOT NULL,
    retired_at TIMESTAMP NOT NULL
);
CREATE INDEX password_history_user ON password_history (user_id, id);
