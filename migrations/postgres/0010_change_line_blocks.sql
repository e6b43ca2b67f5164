-- The lines of a select-all, stored as they stream in: one row per batch of up to 10,000 lines,
-- their MDNs and values before as one JSON array of [mdn, before] pairs, the value after once.
-- A row per line cost PostgreSQL a heap tuple and an index entry each: 100,000 lines took
-- 0.5-1 s to store where ten blocks take under 0.1 s.
CREATE TABLE IF NOT EXISTS change_line_blocks (
    change_id TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    lines INTEGER NOT NULL,
    after_value TEXT,
    data TEXT NOT NULL,
    PRIMARY KEY (change_id, first_seq)
);
-- The one bulk call's result, recorded once: a line its answer singles out (failed, with
-- Sentinel's reason) gets a row in `change_lines`, which takes precedence; every other line
-- reads as `rest_outcome` with `rest_message`. Finishing a change set sets `unknown` here for
-- the lines no answer was recorded for. `storage::changes` resolves a line for every reader.
ALTER TABLE change_sets ADD COLUMN rest_outcome TEXT CHECK (rest_outcome IN ('changed', 'failed', 'unknown'));
ALTER TABLE change_sets ADD COLUMN rest_message TEXT;
