DROP TABLE chain_starts;
