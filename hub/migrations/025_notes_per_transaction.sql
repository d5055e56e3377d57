-- Notes scoped to the transaction that wrote them (docs/scaling.md).
--
-- A batch commits its resolution and its notes first, and the views are
-- made from the notes in a transaction of their own, under a lock of
-- their own, so one hub instance can make views while another resolves.
-- Keyed by (kind, key) alone, a note could be lost in between: a resolver
-- changing person X while X's note from earlier was still there wrote
-- nothing (ON CONFLICT DO NOTHING takes no lock on the row it finds),
-- and a view refresh that deleted that older note and read X before the
-- resolver committed published the old X, leaving no note for the new
-- one. With the writing transaction in the key, a writer's notes are its
-- own: the refresh neither sees nor deletes them until it has committed,
-- and a later refresh takes them. A key noted by several transactions has
-- a row from each until a refresh takes them all; readers take keys
-- DISTINCT.
ALTER TABLE view_dirty
    ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
ALTER TABLE view_dirty DROP CONSTRAINT view_dirty_pkey;
ALTER TABLE view_dirty ADD PRIMARY KEY (kind, key, xid);
