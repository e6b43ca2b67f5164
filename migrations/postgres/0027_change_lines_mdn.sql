-- A line's page shows every change set that touched it: its rows found by MDN (or IMEI) without
-- reading every change's lines. The MDN is never updated, so recording outcomes stays a HOT
-- update (migration 0008); only storing a line writes one more index entry.
CREATE INDEX IF NOT EXISTS change_lines_mdn ON change_lines (mdn);
