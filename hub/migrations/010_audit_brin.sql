-- The audit log is appended to with every disclosure and queried rarely,
-- always over a time range (`gridhub audit query`, `audit report`). Two
-- btrees cost each append an entry apiece; a BRIN index on `at` (which
-- grows with seq, so each block range holds a narrow span of time) serves
-- the range queries for a few pages per million entries. The subscriber,
-- person and record-key filters are applied to the rows of that range.
-- docs/audit.md, "Indexes", has the figures.
DROP INDEX audit_log_subscriber;
DROP INDEX audit_log_at;
CREATE INDEX audit_log_at ON audit_log USING brin (at);
