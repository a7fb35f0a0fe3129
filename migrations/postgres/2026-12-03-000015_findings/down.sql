DROP TABLE finding_events;
DROP TABLE finding_evidence;
DROP TABLE findings;
