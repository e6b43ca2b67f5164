-- A line's page shows every change set that touched it: its rows found by MDN (or IMEI) without
-- reading every change's lines. The MDN is never updated, so recording outcomes is unaffected.
CREATE INDEX IF NOT EXISTS change_lines_mdn ON change_lines (mdn);
