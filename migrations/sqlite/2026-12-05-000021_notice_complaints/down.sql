DROP TABLE complaints;
DROP TABLE notice_settings;
