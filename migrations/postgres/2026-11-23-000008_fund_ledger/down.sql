DROP TABLE meals_served;
DROP TABLE ledger_settings;
DROP TABLE ledger_closings;
DROP TABLE ledger_entries;
DROP TABLE ledger_requests;
DROP TABLE fund_accounts;
