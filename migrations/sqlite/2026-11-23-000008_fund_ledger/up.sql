-- The fund ledger (SPEC §8): an account per org (or supplier) per fund; postings as their makers
-- asked for them (pending a second person's approval above a threshold); entries that are never
-- updated or deleted, each chained to the previous entry of its account by hash.

CREATE TABLE fund_accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL UNIQUE,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    supplier_id BIGINT REFERENCES suppliers(id),
    fund TEXT NOT NULL,
    -- The newest entry: its sequence number and hash (a removed last entry shows here).
    head_seq BIGINT NOT NULL,
    head_hash TEXT NOT NULL,
    balance_fen BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX fund_accounts_holder ON fund_accounts(org_id, COALESCE(supplier_id, 0), fund);

CREATE TABLE ledger_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- One per form shown or API call made: a second submission of it returns the first.
    idempotency_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    fund TEXT NOT NULL,
    from_account_id BIGINT REFERENCES fund_accounts(id),
    to_account_id BIGINT REFERENCES fund_accounts(id),
    for_school_id BIGINT REFERENCES orgs(id),
    reverses_request_id BIGINT REFERENCES ledger_requests(id),
    amount_fen BIGINT NOT NULL,
    value_date DATE NOT NULL,
    category TEXT NOT NULL,
    voucher_no TEXT NOT NULL,
    memo TEXT NOT NULL,
    status TEXT NOT NULL,
    maker TEXT NOT NULL,
    made_at TIMESTAMP NOT NULL,
    checker TEXT,
    checked_at TIMESTAMP,
    reason TEXT
);
CREATE INDEX ledger_requests_status ON ledger_requests(status);

CREATE TABLE ledger_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES fund_accounts(id),
    seq BIGINT NOT NULL,
    request_id BIGINT NOT NULL REFERENCES ledger_requests(id),
    kind TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    value_date DATE NOT NULL,
    month INTEGER NOT NULL,
    category TEXT NOT NULL,
    counter_account_id BIGINT REFERENCES fund_accounts(id),
    for_school_id BIGINT REFERENCES orgs(id),
    reverses_entry_id BIGINT UNIQUE REFERENCES ledger_entries(id),
    voucher_no TEXT NOT NULL,
    memo TEXT NOT NULL,
    maker TEXT NOT NULL,
    checker TEXT NOT NULL,
    posted_at TIMESTAMP NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    UNIQUE (account_id, seq),
    UNIQUE (request_id, account_id)
);
CREATE INDEX ledger_entries_school ON ledger_entries(for_school_id, month);
CREATE INDEX ledger_entries_month ON ledger_entries(account_id, month);

-- A month closed by an org: nothing is posted into it under that org any more.
CREATE TABLE ledger_closings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    month INTEGER NOT NULL,
    closed_by TEXT NOT NULL,
    closed_at TIMESTAMP NOT NULL,
    UNIQUE (org_id, month)
);

-- Postings above this amount need a second person's approval (the nearest org's setting).
CREATE TABLE ledger_settings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id BIGINT NOT NULL UNIQUE REFERENCES orgs(id),
    approval_threshold_fen BIGINT NOT NULL,
    set_by TEXT NOT NULL,
    set_at TIMESTAMP NOT NULL
);

-- What a school reports serving in a month (imported), against the roll's beneficiary-days.
CREATE TABLE meals_served (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES orgs(id),
    month INTEGER NOT NULL,
    days_served INTEGER NOT NULL,
    meals INTEGER NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    UNIQUE (school_id, month)
);
