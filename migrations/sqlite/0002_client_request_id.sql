-- A client's own X-Request-Id, kept apart from the console's request id (which the console always generates).
ALTER TABLE audit_log ADD COLUMN client_request_id TEXT;
