DROP TABLE roster_settings;
