-- Steward decisions are a record, like the audit log (docs/audit.md):
-- each names the database role that made it (the session's user, which
-- no command-line flag can set; --by stays as the name the steward gave),
-- and none is changed or removed afterwards. Each decision also has its
-- entry in the audit log, appended in the same transaction.
ALTER TABLE steward_decision
    ADD COLUMN db_role text NOT NULL DEFAULT current_user;
CREATE TRIGGER steward_decision_append_only
    BEFORE UPDATE OR DELETE ON steward_decision
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER steward_decision_no_truncate BEFORE TRUNCATE ON steward_decision
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
