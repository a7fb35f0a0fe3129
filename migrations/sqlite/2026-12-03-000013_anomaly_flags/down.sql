DROP TABLE anomaly_flag_events;
DROP TABLE anomaly_scans;
DROP TABLE anomaly_flags;
DROP TABLE anomaly_settings;
