-- Audit log and background jobs (sessions: the session store creates its own table).
CREATE TABLE IF NOT EXISTS audit_log (
    id BIGSERIAL PRIMARY KEY,
    at TEXT NOT NULL,
    request_id TEXT,
    subject TEXT NOT NULL,
    user_name TEXT,
    roles TEXT NOT NULL,
    corp_id TEXT NOT NULL,
    action TEXT NOT NULL,
    selection TEXT NOT NULL,
    fields TEXT NOT NULL,
    line_count BIGINT NOT NULL DEFAULT 0,
    updated BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    outcome TEXT NOT NULL,
    upstream_status BIGINT,
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
    total_chunks BIGINT NOT NULL,
    done_chunks BIGINT NOT NULL DEFAULT 0,
    total_lines BIGINT NOT NULL,
    payload TEXT NOT NULL,
    result TEXT NOT NULL DEFAULT '{}',
    lease_owner TEXT,
    lease_until TEXT
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state);
