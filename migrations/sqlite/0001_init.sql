-- Audit log and background jobs (sessions: the session store creates its own table).
-- Timestamps are fixed-width RFC 3339 UTC text ("2024-05-01T12:00:00.000000Z") so that text order is time order.
-- JSON values are stored as text.

CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    request_id TEXT,
    subject TEXT NOT NULL,
    user_name TEXT,
    roles TEXT NOT NULL,
    corp_id TEXT NOT NULL,
    action TEXT NOT NULL,
    selection TEXT NOT NULL,
    fields TEXT NOT NULL,
    line_count INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    unknown INTEGER NOT NULL DEFAULT 0,
    outcome TEXT NOT NULL,
    upstream_status INTEGER,
    result TEXT NOT NULL DEFAULT '{}',
    job_id TEXT
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);
CREATE INDEX IF NOT EXISTS audit_log_subject ON audit_log (subject, id);
CREATE INDEX IF NOT EXISTS audit_log_corp ON audit_log (corp_id, id);
CREATE INDEX IF NOT EXISTS audit_log_action ON audit_log (action, id);

-- The audit log is append-only: the database itself refuses edits and deletions.
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;

CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    subject TEXT NOT NULL,
    session_id TEXT,
    corp_id TEXT NOT NULL,
    action TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    total_chunks INTEGER NOT NULL,
    done_chunks INTEGER NOT NULL DEFAULT 0,
    total_lines INTEGER NOT NULL,
    payload TEXT NOT NULL,
    result TEXT NOT NULL DEFAULT '{}',
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until TEXT
);
-- Finding claimable jobs (queued or running with an expired lease).
CREATE INDEX IF NOT EXISTS jobs_unfinished ON jobs (created_at) WHERE state IN ('queued', 'running');

-- One row per finished chunk: a resumed job skips these.
CREATE TABLE IF NOT EXISTS job_chunks (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    chunk INTEGER NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    updated INTEGER NOT NULL DEFAULT 0,
    failed TEXT NOT NULL DEFAULT '[]',
    unknown TEXT NOT NULL DEFAULT '[]',
    upstream_status INTEGER,
    error TEXT,
    PRIMARY KEY (job_id, chunk)
);

-- One row per chunk whose upstream call was started, written before the call: after a crash, a
-- started chunk without a job_chunks row may have been sent (never re-sent); one without may be run.
CREATE TABLE IF NOT EXISTS job_chunk_starts (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    chunk INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    started_by TEXT NOT NULL,
    PRIMARY KEY (job_id, chunk)
);
