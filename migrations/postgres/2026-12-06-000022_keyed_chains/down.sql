DROP TABLE chain_starts;
DROP FUNCTION chain_starts_set_once();
