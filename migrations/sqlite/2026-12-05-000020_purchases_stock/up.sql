-- What a school's food money bought, or what was delivered to its canteen: the supplier, the
-- documents behind it and its lines. A purchase the school paid names its expenditure.
CREATE TABLE purchases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    -- paid (the school paid it now), attached (documents for an expenditure already posted),
    -- delivery (delivered, paid above the school)
    mode TEXT NOT NULL,
    school_id BIGINT NOT NULL REFERENCES orgs(id),
    request_id BIGINT UNIQUE REFERENCES ledger_requests(id),
    supplier_id BIGINT REFERENCES suppliers(id),
    supplier_name TEXT NOT NULL,
    delivered_on DATE NOT NULL,
    invoice_no TEXT NOT NULL DEFAULT '',
    amount_fen BIGINT NOT NULL,
    memo TEXT NOT NULL DEFAULT '',
    recorded_by TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
CREATE INDEX purchases_school_day ON purchases(school_id, delivered_on);

-- A line: a food of the list (its code), quantity in thousandths of its unit, the unit price
-- (none for a delivery priced elsewhere) and the amount.
CREATE TABLE purchase_lines (
    purchase_id BIGINT NOT NULL REFERENCES purchases(id),
    seq INTEGER NOT NULL,
    food TEXT NOT NULL,
    category TEXT NOT NULL,
    qty_milli BIGINT NOT NULL CHECK (qty_milli > 0),
    price_fen BIGINT CHECK (price_fen > 0),
    amount_fen BIGINT NOT NULL,
    spec TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (purchase_id, seq)
);
CREATE INDEX purchase_lines_food ON purchase_lines(food);

-- The documents behind it: 发票, 送货单, other.
CREATE TABLE purchase_documents (
    purchase_id BIGINT NOT NULL REFERENCES purchases(id),
    attachment_id BIGINT NOT NULL REFERENCES attachments(id),
    kind TEXT NOT NULL,
    pages INTEGER NOT NULL,
    PRIMARY KEY (purchase_id, attachment_id)
);

-- A canteen's stock of a food: the balance never goes below zero.
CREATE TABLE stock_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES orgs(id),
    food TEXT NOT NULL,
    balance_milli BIGINT NOT NULL DEFAULT 0 CHECK (balance_milli >= 0),
    UNIQUE (school_id, food)
);

-- Received (+, from a purchase or delivery) and used (−, on a meal day); a correction is an
-- entry of the opposite sign naming the one it corrects. Never updated or deleted.
CREATE TABLE stock_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id BIGINT NOT NULL REFERENCES stock_items(id),
    day DATE NOT NULL,
    qty_milli BIGINT NOT NULL CHECK (qty_milli <> 0),
    purchase_id BIGINT REFERENCES purchases(id),
    corrects BIGINT REFERENCES stock_entries(id),
    note TEXT NOT NULL DEFAULT '',
    recorded_by TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
CREATE INDEX stock_entries_item_day ON stock_entries(item_id, day);
