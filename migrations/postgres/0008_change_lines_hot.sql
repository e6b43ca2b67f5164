-- Recording the result of a large change updates every one of its lines once (a 100,000-line
-- select-all: 100,000 rows). With room left on each page and no index on the outcome, PostgreSQL
-- makes those HOT updates (no index writes, no new pages): the outcome index cost more on every
-- update than it saved on the line pages, which the primary key (change_id, seq) serves as well.
ALTER TABLE change_lines SET (fillfactor = 60);
DROP INDEX IF EXISTS change_lines_outcome;
