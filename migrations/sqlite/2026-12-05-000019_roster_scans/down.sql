DROP TABLE roster_scan_pages;
DROP TABLE roster_scans;
