-- Where a change was made from: NULL for the admin console, 'portal' for the self-service portal.
ALTER TABLE audit_log ADD COLUMN via TEXT;
