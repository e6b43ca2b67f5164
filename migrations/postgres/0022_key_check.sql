-- One row: a known text sealed with the TOKEN_ENCRYPTION_KEY of the first start on this
-- database. An instance whose key does not open it refuses to start (issue 22).
CREATE TABLE IF NOT EXISTS key_check (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    sealed TEXT NOT NULL,
    created_at TEXT NOT NULL
);
