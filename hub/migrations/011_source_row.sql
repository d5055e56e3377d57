-- Every entity the departments publish besides persons (grids, buildings,
-- households and their members, grid staff and events, registrations,
-- party members, volunteers, civility tasks, family-planning records): the
-- latest state of each department row, one per (department, entity,
-- source_key), with the position of the event that wrote it, exactly as
-- source_person keeps persons (an event at or before the position is a
-- replay; deleted rows stay so a replayed insert cannot revive them).
-- The row is the entity's canonical record as JSON (docs/hub.md, "Entity
-- rows"): the fields its schema names, dates as YYYY-MM-DD, timestamps in
-- ISO 8601, enums as their symbols; ID numbers, phones and addresses
-- sealed when encryption at rest is on. What is derived from these rows
-- (the grid hierarchy, buildings, households, staff, events) reads them
-- here.
CREATE TABLE source_row (
    department   text        NOT NULL,
    entity       text        NOT NULL,
    source_key   text        NOT NULL,
    source_table text        NOT NULL,
    pos_lsn      bigint      NOT NULL,
    pos_seq      bigint      NOT NULL,
    deleted      boolean     NOT NULL DEFAULT false,
    row          jsonb       NOT NULL DEFAULT '{}',
    applied_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (department, entity, source_key)
);
-- No index but the key: every other one costs each of the hundreds of
-- thousands of rows a snapshot brings (docs/benchmarks.md, "Every entity");
-- TRUNCATE and the end of a snapshot, which act on one table's live rows,
-- are rare enough to scan.

-- One source table can feed several entities, each on its own topic (公安's
-- ga_hjrk feeds person, residence_registration and household_member), and
-- each topic ends its snapshot with its own markers: they are told apart
-- by entity.
ALTER TABLE snapshot_marker ADD COLUMN entity text NOT NULL DEFAULT 'person';
ALTER TABLE snapshot_marker DROP CONSTRAINT snapshot_marker_pkey;
ALTER TABLE snapshot_marker
    ADD PRIMARY KEY (department, entity, source_table, snapshot_lsn, part);
