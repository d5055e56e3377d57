-- The audit log (docs/audit.md): every disclosure to a subscriber (and,
-- as they are added, every steward decision, personal-data read, policy
-- load and refusal), appended in the transaction of what it records.
-- Entries are the leaves of an RFC 6962 Merkle tree; signed tree heads
-- pin them outside the database.

-- One row per entry. `entry` is the exact UTF-8 JSON that is hashed
-- (leaf = SHA-256(0x00 || entry)); the other columns repeat parts of it
-- for queries, and `gridhub audit verify` checks that they agree.
CREATE TABLE audit_log (
    seq        bigint      PRIMARY KEY,   -- 0, 1, 2, ...: the leaf index
    at         timestamptz NOT NULL,
    kind       text        NOT NULL,      -- disclosure, ...
    subscriber text,
    entity     text,
    msg_key    text,                      -- the subscriber's pseudonym
    entry      text        NOT NULL,
    leaf       bytea       NOT NULL
);
CREATE INDEX audit_log_subscriber ON audit_log (subscriber, at);
CREATE INDEX audit_log_at ON audit_log (at);

-- Perfect subtrees of 2^level leaves (level >= 8), for proofs without
-- reading the whole log; lower levels are rebuilt from at most 256 leaves.
CREATE TABLE audit_node (
    level smallint NOT NULL,
    idx   bigint   NOT NULL,
    hash  bytea    NOT NULL,
    PRIMARY KEY (level, idx)
);

-- The tree as it stands: its size and its frontier (one hash per set bit
-- of the size, lowest level first, concatenated). One row; appenders lock
-- it, which orders every append.
CREATE TABLE audit_head (
    id       smallint PRIMARY KEY CHECK (id = 1),
    size     bigint   NOT NULL,
    frontier bytea    NOT NULL
);
INSERT INTO audit_head VALUES (1, 0, '\x');

-- Signed tree heads, as issued (also published to the audit topic).
CREATE TABLE audit_sth (
    size         bigint      PRIMARY KEY,
    timestamp_ms bigint      NOT NULL,
    root         bytea       NOT NULL,
    key_id       text        NOT NULL,
    sig          bytea       NOT NULL,
    head         text        NOT NULL   -- the JSON form, as published
);

-- Append-only: the hub's own role cannot rewrite history. (A superuser
-- can disable triggers; that is what the signed heads outside the
-- database are for.)
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on % refused',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_node_append_only BEFORE UPDATE OR DELETE ON audit_node
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_node_no_truncate BEFORE TRUNCATE ON audit_node
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_sth_append_only BEFORE UPDATE OR DELETE ON audit_sth
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_sth_no_truncate BEFORE TRUNCATE ON audit_sth
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
