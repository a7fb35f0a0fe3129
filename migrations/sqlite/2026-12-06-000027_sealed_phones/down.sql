-- Only for a database whose rows are still plain (the server seals them when it starts).
ALTER TABLE complaints RENAME COLUMN contact_sealed TO contact;
ALTER TABLE schools RENAME COLUMN principal_mobile_sealed TO principal_mobile;
ALTER TABLE schools RENAME COLUMN principal_phone_sealed TO principal_phone;
ALTER TABLE teachers RENAME COLUMN phone_sealed TO phone;
