-- Requests, approvals and scheduled changes (issue 9): a change set may wait for approval or for
-- its time before anything is sent. What to run is kept as the confirmed form's fields (`plan`,
-- never a secret); the sign-in it runs with is a sealed grant. Stamps are RFC 3339 UTC text.

ALTER TABLE change_sets ADD COLUMN plan TEXT;
ALTER TABLE change_sets ADD COLUMN run_at TEXT COLLATE "C";
ALTER TABLE change_sets ADD COLUMN request_reason TEXT;
ALTER TABLE change_sets ADD COLUMN expires_at TEXT COLLATE "C";
ALTER TABLE change_sets ADD COLUMN decided_by TEXT;
ALTER TABLE change_sets ADD COLUMN decided_by_name TEXT;
ALTER TABLE change_sets ADD COLUMN decided_at TEXT COLLATE "C";
ALTER TABLE change_sets ADD COLUMN decision_reason TEXT;
ALTER TABLE change_sets ADD COLUMN grant_id TEXT;
-- The scheduler's claim on a due change set (one instance releases it; a dead one's claim lapses).
ALTER TABLE change_sets ADD COLUMN claimed_by TEXT;
ALTER TABLE change_sets ADD COLUMN claim_until TEXT COLLATE "C";
ALTER TABLE change_sets ADD COLUMN started_at TEXT COLLATE "C";
-- Finding due scheduled changes and expired requests.
CREATE INDEX IF NOT EXISTS change_sets_waiting ON change_sets (state, run_at);

-- A user's sign-in kept for the changes that run on their behalf later: the tokens and the user,
-- sealed with TOKEN_ENCRYPTION_KEY (never readable in the database). `generation` moves with each refresh.
CREATE TABLE IF NOT EXISTS grants (
    id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL,
    sealed TEXT NOT NULL,
    generation BIGINT NOT NULL DEFAULT 0
);

-- The audit log records each step of a change set's life: NULL is a change sent to Sentinel;
-- else requested, approved, rejected, scheduled, cancelled, expired, needs_sign_in.
ALTER TABLE audit_log ADD COLUMN event TEXT;
