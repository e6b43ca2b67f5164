-- The fleet's history (issue 24): tracked device groups, their samples, each line's latest
-- sample and its days. Stamps are fixed-width RFC 3339 UTC text as elsewhere; a day is a number
-- of days since 1970-01-01 in USAGE_TIME_ZONE, a month is year * 12 + month - 1.

-- A tracked device group: who started it (their sealed grant), when it is due, who claimed it.
CREATE TABLE IF NOT EXISTS usage_tracking (
    corp_id TEXT PRIMARY KEY,
    gid INTEGER NOT NULL UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('active', 'needs_sign_in', 'stopped')),
    subject TEXT,
    user_name TEXT,
    grant_id TEXT,
    started_at TEXT,
    next_due TEXT NOT NULL,
    claimed_by TEXT,
    claim_until TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    last_ok_at TEXT,
    message TEXT,
    -- Demo mode: days before this one were filled in as simulated history.
    simulated_before INTEGER
);
CREATE INDEX IF NOT EXISTS usage_tracking_due ON usage_tracking (state, next_due);

-- One row per sample taken (or failed): a failed sample is recorded as failed, never as zeros.
CREATE TABLE IF NOT EXISTS usage_samples (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    gid INTEGER NOT NULL,
    taken_at TEXT NOT NULL,
    ok INTEGER NOT NULL,
    lines INTEGER NOT NULL DEFAULT 0,
    elapsed_ms BIGINT NOT NULL DEFAULT 0,
    message TEXT
);
CREATE INDEX IF NOT EXISTS usage_samples_gid ON usage_samples (gid, taken_at);

-- The raw samples of the last USAGE_RAW_RETENTION_DAYS: one row per sample, every line packed
-- (MDN, this month's and today's usage in hundredths of MB).
CREATE TABLE IF NOT EXISTS usage_raw (
    sample_id BIGINT PRIMARY KEY,
    gid INTEGER NOT NULL,
    taken_at TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_raw_taken ON usage_raw (taken_at);

-- Status, filter group, network, device and label names, stored once and referred to by number.
CREATE TABLE IF NOT EXISTS usage_names (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE
);

-- Each line's latest sample in full, and the running figures of its current day.
CREATE TABLE IF NOT EXISTS usage_latest (
    gid INTEGER NOT NULL,
    mdn BIGINT NOT NULL,
    taken_at TEXT NOT NULL,
    nickname TEXT NOT NULL,
    status INTEGER NOT NULL,
    filter_group INTEGER NOT NULL,
    network INTEGER NOT NULL,
    device INTEGER NOT NULL,
    labels TEXT NOT NULL,
    summer_status TEXT NOT NULL,
    media_center_status TEXT NOT NULL,
    month_used BIGINT NOT NULL,
    day_used BIGINT NOT NULL,
    last30_used BIGINT NOT NULL,
    monthly_limit BIGINT,
    daily_limit BIGINT,
    day INTEGER NOT NULL,
    samples INTEGER NOT NULL,
    growth BIGINT NOT NULL,
    first_day INTEGER NOT NULL,
    last_used_day INTEGER,
    PRIMARY KEY (gid, mdn)
);

-- A line's days, one row per month: 31 cells of 16 bytes (usage in hundredths of MB, status,
-- filter group, monthly and daily limit as seen; status 0: not sampled that day). About 18
-- bytes per line and day where a row per day would cost over 60.
CREATE TABLE IF NOT EXISTS usage_months (
    gid INTEGER NOT NULL,
    mdn BIGINT NOT NULL,
    month INTEGER NOT NULL,
    days BLOB NOT NULL,
    PRIMARY KEY (gid, mdn, month)
);

-- The group's days summed (the usage page reads these, not the lines): dimension 0 is the
-- whole group, 1 filter group, 2 device, 3 network, 4 status, 5 label; `name` a usage_names id.
CREATE TABLE IF NOT EXISTS usage_group_days (
    gid INTEGER NOT NULL,
    day INTEGER NOT NULL,
    dim SMALLINT NOT NULL,
    name INTEGER NOT NULL,
    usage BIGINT NOT NULL,
    used_lines INTEGER NOT NULL,
    sampled_lines INTEGER NOT NULL,
    PRIMARY KEY (gid, day, dim, name)
);

-- What changed between two samples that no change set of the console explains.
CREATE TABLE IF NOT EXISTS usage_drift (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    gid INTEGER NOT NULL,
    mdn BIGINT NOT NULL,
    field TEXT NOT NULL,
    before_value TEXT NOT NULL,
    after_value TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    previous_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_drift_gid ON usage_drift (gid, seen_at);
