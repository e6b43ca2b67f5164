-- Audit log and background jobs (sessions: the session store creates its own table).
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
    outcome TEXT NOT NULL,
    upstream_status INTEGER,
    result TEXT NOT NULL DEFAULT '{}',
    job_id TEXT
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);
CREATE INDEX IF NOT EXISTS audit_log_subject ON audit_log (subject);
CREATE INDEX IF NOT EXISTS audit_log_corp ON audit_log (corp_id);

CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    session_subject TEXT NOT NULL,
    corp_id TEXT NOT NULL,
    action TEXT NOT NULL,
    state TEXT NOT NULL,
    total_chunks INTEGER NOT NULL,
    done_chunks INTEGER NOT NULL DEFAULT 0,
    total_lines INTEGER NOT NULL,
    payload TEXT NOT NULL,
    result TEXT NOT NULL DEFAULT '{}',
    lease_owner TEXT,
    lease_until TEXT
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state);
