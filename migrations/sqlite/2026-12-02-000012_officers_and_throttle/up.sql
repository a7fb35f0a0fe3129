-- Who created an account (NULL: the command line or the seed). An account a person creates
-- waits for the 安全管理员's grant (status 'pending'); the creator never learns its password.
ALTER TABLE users ADD COLUMN created_by TEXT;

-- Steps on accounts that one officer asks for and another decides: granting an account a
-- person created, disabling an officer's account.
CREATE TABLE account_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users(id),
    action TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at TIMESTAMP NOT NULL,
    status TEXT NOT NULL,
    decided_by TEXT,
    decided_at TIMESTAMP
);
CREATE UNIQUE INDEX account_requests_one_open ON account_requests(user_id, action) WHERE status = 'pending';

-- Failed logins per client address, whatever the names tried.
CREATE TABLE login_throttle (
    ip TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    first_failed_at TIMESTAMP NOT NULL,
    blocked_until TIMESTAMP
);
