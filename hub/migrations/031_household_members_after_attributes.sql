-- A household record's members noted only when their attributes do not
-- already name the household.
--
-- A member's household_id (person_attr) is the view id of the household
-- its member row names (H + the head's person number), so when a
-- household record's link moves (its head resolved later, or to another
-- person, or the record is new) the refresh of 018 noted every member by
-- ID key ('idkey') and their attributes were derived again in the next
-- round of views. But the attributes of the same round are derived beside
-- the households, on a session of their own (hub/publish/views_thread.c),
-- from the same committed rows: at the end of a catch-up, when every
-- household is linked for the first time, they had already found the
-- household for nearly every member, and the notes made one more round of
-- views that derived every member again and changed nothing (24,236
-- persons, 1.6-2.6 s of the demo's tail after its persons).
--
-- Now the refresh notes the moved records ('hmember', department:key, in
-- the views transaction only), and household_members_note(), called in
-- the same transaction once the round's attributes are committed, turns
-- them into 'idkey' notes of the members, except those every one of whose
-- persons has attributes naming the record's current view id. A member
-- derived in a snapshot that did not see the link yet, or that names
-- another household, is noted as before.

CREATE OR REPLACE FUNCTION household_refresh_part(recs text[])
RETURNS TABLE (entity text, id text, active boolean, version bigint,
               body text, updated_us bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    ids text[];
    deps text[];
    keys text[];
    old_links text[];
    new_ids text[];
    moved text[];
BEGIN
    SELECT array_agg(split_part(x, ':', 1)),
           array_agg(substr(x, length(split_part(x, ':', 1)) + 2))
    INTO deps, keys FROM (SELECT DISTINCT unnest(recs) AS x) u;
    SELECT array_agg(DISTINCT l.view_id),
           array_agg(l.department || ':' || l.source_key || ' ' || l.view_id)
    INTO ids, old_links
    FROM view_link l JOIN unnest(deps, keys) AS k(department, source_key)
      ON l.entity = 'household' AND l.department = k.department
     AND l.source_key = k.source_key;
    DELETE FROM view_link l USING unnest(deps, keys) AS k(department, source_key)
    WHERE l.entity = 'household' AND l.department = k.department
      AND l.source_key = k.source_key;
    WITH cur AS (
        SELECT r.department, r.source_key, r.id_key
        FROM unnest(deps, keys) AS k(department, source_key)
        JOIN source_row r ON r.department = k.department
         AND r.entity = 'household' AND r.source_key = k.source_key
        WHERE NOT r.deleted),
    nw AS (
        INSERT INTO view_link
        SELECT 'household', c.department, c.source_key,
               coalesce('H' || substr(t.person_id, 2),
                        'H:' || c.department || ':' || c.source_key)
        FROM cur c
        LEFT JOIN persons_of_id_keys(ARRAY(SELECT id_key FROM cur)) t
          ON t.k = c.id_key
        RETURNING department, source_key, view_id)
    SELECT array_agg(DISTINCT view_id),
           array_agg(department || ':' || source_key) FILTER (WHERE NOT (
               department || ':' || source_key || ' ' || view_id
               = ANY (coalesce(old_links, '{}'))))
    INTO new_ids, moved FROM nw;
    SELECT array_agg(DISTINCT x) INTO ids
    FROM (SELECT unnest(ids) AS x UNION SELECT unnest(new_ids)) u;
    INSERT INTO view_dirty (kind, key)
    SELECT DISTINCT 'hmember', mv.r FROM unnest(moved) AS mv(r)
    WHERE mv.r IS NOT NULL
    ON CONFLICT DO NOTHING;
    RETURN QUERY
    SELECT * FROM entity_view_put('household', (
        SELECT coalesce(jsonb_agg(jsonb_build_object('id', v.id,
                                                     'body', v.body)), '[]')
        FROM household_view_of(ids) v), ids);
END $$;

-- The members of the household records noted 'hmember' (every such note,
-- whoever left it: only views transactions do, under the views lock),
-- noted by ID key unless every person holding the key (as
-- persons_holding_id_keys finds them, 024) has attributes naming the
-- record's current view id. Set-based: at the end of a catch-up every
-- household of the city is here. Returns how many keys it noted.
CREATE FUNCTION household_members_note() RETURNS bigint
LANGUAGE sql AS $$
    WITH d AS (
        DELETE FROM view_dirty WHERE kind = 'hmember' RETURNING key),
    mv AS (
        SELECT DISTINCT split_part(key, ':', 1) AS department,
               substr(key, length(split_part(key, ':', 1)) + 2) AS source_key
        FROM d),
    m AS (
        SELECT DISTINCT r.id_key, l.view_id
        FROM mv
        JOIN source_row r ON r.entity = 'household_member'
         AND r.department = mv.department
         AND r.row ->> 'household_key' = mv.source_key
        LEFT JOIN view_link l ON l.entity = 'household'
         AND l.department = mv.department AND l.source_key = mv.source_key
        WHERE NOT r.deleted AND r.id_key NOT IN (0, -1)),
    k AS (SELECT DISTINCT id_key FROM m),
    holders AS (
        SELECT sp.id_key AS k, sp.person_id
        FROM k JOIN source_person sp ON sp.id_key = k.id_key
        WHERE NOT sp.deleted AND sp.person_id IS NOT NULL
        UNION
        SELECT b.block_key, sp.person_id
        FROM k JOIN person_block b ON b.block_key = k.id_key
        JOIN source_person sp ON sp.rec_id = b.rec_id
        WHERE EXISTS (SELECT 1 FROM source_person x WHERE x.id_key IS NULL)
          AND sp.id_key IS NULL AND NOT sp.deleted
          AND sp.person_id IS NOT NULL),
    named AS (
        SELECT m.id_key, m.view_id
        FROM m JOIN holders h ON h.k = m.id_key
        LEFT JOIN person_attr a ON a.person_id = h.person_id
        WHERE m.view_id IS NOT NULL
        GROUP BY m.id_key, m.view_id
        HAVING bool_and(a.household_id IS NOT DISTINCT FROM m.view_id)),
    n AS (
        INSERT INTO view_dirty (kind, key)
        SELECT DISTINCT 'idkey', m.id_key::text FROM m
        WHERE NOT EXISTS (SELECT 1 FROM named x WHERE x.id_key = m.id_key
                            AND x.view_id = m.view_id)
        ON CONFLICT DO NOTHING
        RETURNING key)
    SELECT count(*) FROM n
$$;
