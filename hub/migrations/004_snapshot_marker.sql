-- End-of-snapshot markers (connectors/runtime/connector.c snapshot_marker):
-- a connector's snapshot of a table ends with a marker on every partition
-- of its topic. Once the hub has seen all of them, every row the snapshot
-- had has been applied at the snapshot's position, and any live record of
-- that table still older than it was deleted at the source while its
-- events were lost: it is deleted here too.
CREATE TABLE snapshot_marker (
    department   text    NOT NULL,
    source_table text    NOT NULL,
    snapshot_lsn bigint  NOT NULL,
    part         integer NOT NULL,
    parts        integer NOT NULL,
    seen_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (department, source_table, snapshot_lsn, part)
);
