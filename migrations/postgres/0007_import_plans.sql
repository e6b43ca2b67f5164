-- CSV import plans: an import's validated changes, kept between its preview and its confirmation
-- (a 50,000-row file is too big to post back), one per user and device group, expiring.
-- Stamps are fixed-width RFC 3339 UTC text, as in the other tables; the plan is JSON text.

CREATE TABLE IF NOT EXISTS import_plans (
    id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    corp_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    plan TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS import_plans_expiry ON import_plans (expires_at);
CREATE INDEX IF NOT EXISTS import_plans_owner ON import_plans (subject, corp_id);
