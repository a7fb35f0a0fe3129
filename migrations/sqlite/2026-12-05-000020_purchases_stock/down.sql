DROP TABLE stock_entries;
DROP TABLE stock_items;
DROP TABLE purchase_documents;
DROP TABLE purchase_lines;
DROP TABLE purchases;
