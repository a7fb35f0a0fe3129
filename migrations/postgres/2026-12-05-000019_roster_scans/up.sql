-- The scan of a roster version as printed and signed by the guardians (PDF or JPEG pages).
-- A school may upload again before 备案; the newest scan of a version is the one that counts.
CREATE TABLE roster_scans (
    id BIGSERIAL PRIMARY KEY,
    roster_id BIGINT NOT NULL REFERENCES rosters(id),
    pages INTEGER NOT NULL,
    printed_pages INTEGER NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at TIMESTAMP NOT NULL
);
CREATE INDEX roster_scans_roster ON roster_scans(roster_id);

-- Each scanned page in order: the uploaded file it is in (and its page there), and the image
-- shown for it (the JPEG itself, or the JPEG a scanner put on a PDF page; none for other PDFs).
CREATE TABLE roster_scan_pages (
    scan_id BIGINT NOT NULL REFERENCES roster_scans(id),
    page_no INTEGER NOT NULL,
    file_id BIGINT NOT NULL REFERENCES attachments(id),
    file_page INTEGER NOT NULL,
    image_id BIGINT REFERENCES attachments(id),
    PRIMARY KEY (scan_id, page_no)
);
