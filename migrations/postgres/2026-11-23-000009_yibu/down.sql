DROP TABLE yibu_lines;
DROP TABLE yibu_periods;
