-- Change sets: every confirmed change, stored before anything is sent, with one row per line
-- (its value before, the value it was given, and what happened to it).
-- Stamps are fixed-width RFC 3339 UTC text, as in the other tables; JSON is stored as text.

CREATE TABLE IF NOT EXISTS change_sets (
    id TEXT PRIMARY KEY,
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL,
    finished_at TEXT COLLATE "C",
    subject TEXT NOT NULL,
    user_name TEXT,
    corp_id TEXT NOT NULL,
    action TEXT NOT NULL,
    fields TEXT NOT NULL,
    summary TEXT NOT NULL,
    selection TEXT NOT NULL,
    selection_text TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('awaiting_approval', 'scheduled', 'running', 'done',
        'done_with_failures', 'failed', 'cancelled', 'rejected', 'needs_sign_in')),
    total_lines BIGINT NOT NULL,
    changed BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    unknown BIGINT NOT NULL DEFAULT 0,
    message TEXT,
    parent_id TEXT,
    origin TEXT NOT NULL DEFAULT 'change' CHECK (origin IN ('change', 'retry', 'revert'))
);
CREATE INDEX IF NOT EXISTS change_sets_corp ON change_sets (corp_id, created_at);
CREATE INDEX IF NOT EXISTS change_sets_subject ON change_sets (subject, created_at);

CREATE TABLE IF NOT EXISTS change_lines (
    change_id TEXT NOT NULL REFERENCES change_sets (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    mdn TEXT NOT NULL,
    before_value TEXT,
    after_value TEXT,
    outcome TEXT NOT NULL DEFAULT 'pending' CHECK (outcome IN ('pending', 'changed', 'failed', 'unknown')),
    message TEXT,
    PRIMARY KEY (change_id, seq)
);
-- Paging one change's lines by outcome.
CREATE INDEX IF NOT EXISTS change_lines_outcome ON change_lines (change_id, outcome, seq);
