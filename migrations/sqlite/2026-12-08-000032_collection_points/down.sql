DROP TABLE collect_sent;
DROP TABLE collect_pairing;
DROP TABLE collect_items;
DROP TABLE collect_children;
DROP TABLE collect_packages;
DROP TABLE collect_points;
