-- The one secret a job may carry (a SmartSpot change's new Wi-Fi password), sealed for its row
-- with the token key. It is stored with the job and deleted in the transaction that finishes
-- the job: it lives only while the change runs, and survives a stop so another instance can
-- finish the change.
CREATE TABLE IF NOT EXISTS job_secrets (
    job_id TEXT PRIMARY KEY,
    sealed TEXT NOT NULL
);
