-- Encryption at rest, continued: the phones of people who are not children's guardians are
-- personal data too (a teacher's, a principal's, a complainant's contact), stored sealed like
-- the guardian's; the server seals the rows still in plain text when it starts.
ALTER TABLE teachers RENAME COLUMN phone TO phone_sealed;
ALTER TABLE schools RENAME COLUMN principal_phone TO principal_phone_sealed;
ALTER TABLE schools RENAME COLUMN principal_mobile TO principal_mobile_sealed;
ALTER TABLE complaints RENAME COLUMN contact TO contact_sealed;
UPDATE sealing SET sealed_at = NULL;
