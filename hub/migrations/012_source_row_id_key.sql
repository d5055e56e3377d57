-- The rows of other entities that name a resident by ID number (grid
-- staff, household members, party members, volunteers, ...) are linked to
-- golden persons through the same keyed blocking key person_block holds
-- for source records (gh_resolver_id_key), so the link needs no ID number
-- in clear. 0: the row has no usable ID; -1: not known yet (an update that
-- left the ID TOASTed on a row the hub had not seen).
ALTER TABLE source_row ADD COLUMN id_key bigint NOT NULL DEFAULT 0;
