-- Two mends of 018's refreshes.
--
-- The person attributes' derivation, planned to touch only the rows its
-- persons' ID keys name whatever the statistics say.
--
-- During a catch-up the tables grow faster than autovacuum analyzes them,
-- and the join of the persons' keys to their linked rows (cand) was
-- planned as a merge join over the whole source_row_id_key index: every
-- registration, household and member row, sorted, for each 1,000
-- persons. The keys as an array make them the index condition, so the
-- scan reads what they name under any plan. Otherwise as in 018.
CREATE OR REPLACE FUNCTION person_attr_of(pids text[])
RETURNS TABLE (person_id text, registration_type text, valid_until date,
               party_member boolean, volunteer boolean, staff_role text,
               household_id text, grid_code text, grid_basis text,
               grid_source text, grid_at bigint, building_id text,
               building_no text, unit_no text, room_no text,
               records_grid text, conflict boolean, heads text[],
               head_grids text[])
LANGUAGE sql STABLE AS $$
    WITH keys AS (
        SELECT DISTINCT sp.person_id AS pid, sp.id_key AS k
        FROM source_person sp
        WHERE sp.person_id = ANY (pids) AND NOT sp.deleted
          AND sp.id_key NOT IN (0, -1)
        -- records applied before this migration: every blocking key
        UNION
        SELECT sp.person_id, b.block_key
        FROM source_person sp JOIN person_block b ON b.rec_id = sp.rec_id
        WHERE sp.person_id = ANY (pids) AND NOT sp.deleted
          AND sp.id_key IS NULL),
    cand AS (
        SELECT keys.pid, r.entity, r.department, r.source_key, r.row, r.id_key
        FROM keys
        JOIN source_row r ON r.id_key = keys.k
        WHERE r.id_key = ANY (ARRAY(SELECT k FROM keys))
          AND r.entity IN ('residence_registration', 'party_member',
                           'volunteer', 'grid_staff', 'household',
                           'household_member') AND NOT r.deleted),
    linked AS (
        SELECT c.* FROM cand c
        JOIN persons_of_id_keys(ARRAY(SELECT DISTINCT id_key FROM cand)) t
          ON t.k = c.id_key AND t.person_id = c.pid),
    hh AS (
        SELECT l.pid, h.department, h.source_key, h.id_key
        FROM linked l JOIN source_row h ON h.department = l.department
         AND h.entity = 'household' AND h.source_key = l.row ->> 'household_key'
        WHERE l.entity = 'household_member' AND NOT h.deleted),
    member_of AS (
        SELECT DISTINCT ON (hh.pid) hh.pid,
               coalesce('H' || substr(t.person_id, 2),
                        'H:' || hh.department || ':' || hh.source_key) AS hid
        FROM hh LEFT JOIN persons_of_id_keys(ARRAY(SELECT id_key FROM hh)) t
          ON t.k = hh.id_key
        ORDER BY hh.pid, 2),
    agg AS (
        SELECT pid,
          (array_agg(row ->> 'registration_type' ORDER BY row ->> 'updated_at'
             DESC NULLS LAST, department, source_key)
             FILTER (WHERE entity = 'residence_registration'))[1] AS rt,
          (array_agg(row ->> 'valid_until' ORDER BY row ->> 'updated_at'
             DESC NULLS LAST, department, source_key)
             FILTER (WHERE entity = 'residence_registration'))[1] AS vu,
          bool_or(entity = 'party_member') AS pm,
          bool_or(entity = 'volunteer') AS vol,
          (array_agg(row ->> 'role' ORDER BY CASE row ->> 'role'
             WHEN 'GRID_LEADER' THEN 0 WHEN 'FULL_TIME_MEMBER' THEN 1
             WHEN 'PART_TIME_MEMBER' THEN 2 WHEN 'LIAISON' THEN 3 ELSE 4 END)
             FILTER (WHERE entity = 'grid_staff'))[1] AS role,
          bool_or(entity = 'household') AS head,
          array_agg(department || ':' || source_key)
            FILTER (WHERE entity = 'household') AS heads,
          array_agg(row ->> 'grid_code')
            FILTER (WHERE entity = 'household'
                    AND row ->> 'grid_code' IS NOT NULL) AS head_grids,
          (array_agg(ARRAY[row ->> 'current_address_code',
                           department || ':' || source_key,
                           row ->> 'updated_at']
             ORDER BY row ->> 'updated_at' DESC NULLS LAST, department,
                      source_key)
             FILTER (WHERE entity = 'residence_registration'
                     AND row ->> 'current_address_code' IS NOT NULL)) AS res
        FROM linked GROUP BY pid),
    bld AS (
        SELECT * FROM building_of(ARRAY(SELECT res[1][1] FROM agg
                                        WHERE res IS NOT NULL))),
    base AS (
        SELECT u.pid, a.rt, a.vu, a.pm, a.vol, a.role, a.head, a.heads,
               a.head_grids, m.hid, a.res[1][2] AS rkey,
               a.res[1][3] AS rat, a.res[1][1] AS bid,
               b.building_no AS bno, b.unit_no AS uno, b.room_no AS rno,
               b.grid_code AS bg, p.grid_code AS rg,
               EXISTS (SELECT 1 FROM person_override o
                       WHERE o.person_id = u.pid AND o.field = 'grid_code')
                 AS steward,
               EXISTS (SELECT 1 FROM grid x WHERE x.code = p.grid_code
                       AND b.grid_code = ANY (x.path)) AS rg_in_bg,
               EXISTS (SELECT 1 FROM grid x WHERE x.code = b.grid_code
                       AND p.grid_code = ANY (x.path)) AS bg_in_rg,
               EXISTS (SELECT 1 FROM grid x WHERE x.code = p.grid_code)
                 AS rg_known,
               (SELECT e ->> 'department'
                FROM jsonb_array_elements(p.provenance) e
                WHERE e ->> 'field' = 'grid_code' LIMIT 1) AS rg_dept
        FROM (SELECT DISTINCT unnest(pids) AS pid) u
        LEFT JOIN agg a ON a.pid = u.pid
        LEFT JOIN member_of m ON m.pid = u.pid
        LEFT JOIN person p ON p.person_id = u.pid
        LEFT JOIN bld b ON b.building_id = a.res[1][1]),
    pick AS (
        SELECT base.*,
               NOT steward AND bg IS NOT NULL AND NOT rg_in_bg AS by_building
        FROM base)
    SELECT pid, rt, vu::date, coalesce(pm, false), coalesce(vol, false), role,
           CASE WHEN head THEN 'H' || substr(pid, 2) ELSE hid END,
           CASE WHEN by_building THEN bg ELSE rg END,
           CASE WHEN steward THEN 'STEWARD' WHEN by_building THEN 'BUILDING'
                WHEN rg IS NOT NULL THEN 'RECORDS' END,
           CASE WHEN by_building THEN rkey END,
           CASE WHEN by_building THEN micros(rat::timestamptz) END,
           bid, bno, uno, rno, rg,
           by_building AND rg_known AND NOT bg_in_rg
             AND rg_dept IS DISTINCT FROM split_part(rkey, ':', 1),
           heads, head_grids
    FROM pick
$$;

-- A building every record left is tombstoned, whichever record left it.
--
-- 018 tombstoned the old buildings of the records it was given, but not
-- those of the records it relinked with them: a house typed without its
-- code stands alone (B:<department>:<key>) until a record with the code
-- at its place arrives, then joins that building, and its own record
-- stayed published with no record behind it (592 of 19,102 after a bench
-- run, a number that varied with the order the topics were read in;
-- found by comparing the published buildings with the links, a check
-- `gridhub grid recount` now makes). Otherwise as in 018.
CREATE OR REPLACE FUNCTION building_refresh_part(recs text[])
RETURNS TABLE (entity text, id text, active boolean, version bigint,
               body text, updated_us bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    deps text[];
    keys text[];
    old_ids text[];
    places text[];
    ids text[];
BEGIN
    SELECT array_agg(split_part(x, ':', 1)),
           array_agg(substr(x, length(split_part(x, ':', 1)) + 2))
    INTO deps, keys FROM (SELECT DISTINCT unnest(recs) AS x) u;
    SELECT coalesce(array_agg(DISTINCT l.view_id), '{}') INTO old_ids
    FROM view_link l JOIN unnest(deps, keys) AS k(department, source_key)
      ON l.entity = 'building' AND l.department = k.department
     AND l.source_key = k.source_key;
    DELETE FROM building_place p
    USING unnest(deps, keys) AS k(department, source_key)
    WHERE p.department = k.department AND p.source_key = k.source_key;
    INSERT INTO building_place
    SELECT r.department, r.source_key, r.row ->> 'address_code', x.place,
           x.community, x.building_no, x.unit_no, x.room_no,
           r.row ->> 'grid_code'
    FROM unnest(deps, keys) AS k(department, source_key)
    JOIN source_row r ON r.department = k.department
     AND r.entity = 'building' AND r.source_key = k.source_key
    CROSS JOIN LATERAL building_place_of(r.row) x
    WHERE NOT r.deleted;
    -- The places concerned: the records' own and those of every record
    -- in a building they left (which is where that building was).
    SELECT coalesce(array_agg(DISTINCT p.place), '{}') INTO places
    FROM building_place p
    WHERE p.place IS NOT NULL
      AND ((p.department, p.source_key) IN (SELECT * FROM unnest(deps, keys))
           OR (p.department, p.source_key) IN (
               SELECT l.department, l.source_key FROM view_link l
               WHERE l.entity = 'building' AND l.view_id = ANY (old_ids)));
    -- A scratch table for the transaction (checked first: IF NOT EXISTS
    -- would send a notice to the client each time).
    IF to_regclass('pg_temp.building_relink') IS NULL THEN
        CREATE TEMP TABLE building_relink (department text, source_key text)
            ON COMMIT DROP;
    ELSE
        TRUNCATE building_relink;
    END IF;
    INSERT INTO building_relink
    SELECT p.department, p.source_key FROM building_place p
    WHERE p.place = ANY (places)
    UNION SELECT * FROM unnest(deps, keys)
    UNION SELECT l.department, l.source_key FROM view_link l
    WHERE l.entity = 'building' AND l.view_id = ANY (old_ids);
    -- The buildings every relinked record was in: one left without a
    -- record is tombstoned (not only those of the records given).
    SELECT coalesce(array_agg(DISTINCT l.view_id), '{}') INTO old_ids
    FROM view_link l JOIN building_relink a ON l.entity = 'building'
     AND l.department = a.department AND l.source_key = a.source_key;
    DELETE FROM view_link l USING building_relink a
    WHERE l.entity = 'building' AND l.department = a.department
      AND l.source_key = a.source_key;
    -- A record with a code is that building. One without is the building
    -- with a code at its place if there is one such code, or one such
    -- code a record in the same grid gives (a community may number the
    -- buildings of each estate from 1: the place alone is ambiguous);
    -- else a building of its own rather than a guess.
    WITH coded AS (
        SELECT p.place, p.address_code AS code,
               array_agg(DISTINCT p.grid_code) AS grids
        FROM building_place p
        WHERE p.place = ANY (places) AND p.address_code IS NOT NULL
        GROUP BY p.place, p.address_code),
    one AS (
        SELECT c.place, min(c.code) AS code FROM coded c
        GROUP BY c.place HAVING count(*) = 1),
    bygrid AS (
        SELECT c.place, g.grid, min(c.code) AS code
        FROM coded c CROSS JOIN LATERAL unnest(c.grids) AS g(grid)
        WHERE g.grid IS NOT NULL
        GROUP BY c.place, g.grid HAVING count(*) = 1),
    nw AS (
        INSERT INTO view_link
        SELECT 'building', p.department, p.source_key,
               coalesce(p.address_code, o.code, b.code,
                        'B:' || p.department || ':' || p.source_key)
        FROM building_relink a JOIN building_place p
          ON p.department = a.department AND p.source_key = a.source_key
        LEFT JOIN one o ON p.address_code IS NULL AND o.place = p.place
        LEFT JOIN bygrid b ON p.address_code IS NULL AND b.place = p.place
         AND b.grid = p.grid_code
        RETURNING view_id)
    SELECT coalesce(array_agg(DISTINCT x), '{}') INTO ids
    FROM (SELECT unnest(old_ids) AS x UNION SELECT view_id FROM nw) u;
    INSERT INTO view_dirty
    SELECT 'person', a.person_id FROM person_attr a
    WHERE a.building_id = ANY (ids)
    ON CONFLICT DO NOTHING;
    RETURN QUERY
    SELECT * FROM entity_view_put('building', (
        SELECT coalesce(jsonb_agg(jsonb_build_object('id', v.id,
                                                     'body', v.body)), '[]')
        FROM building_view_of(ids) v), ids);
END $$;

-- In pieces, as in 018; and the golden buildings `ids` derived again,
-- tombstoned if no record is linked to them any more: the mend of a hub
-- database 018 left such buildings published in (noted below as
-- 'building_gone', taken with the 'building' notes by the hub).
DROP FUNCTION building_refresh(text[]);
CREATE FUNCTION building_refresh(recs text[], ids text[])
RETURNS TABLE (entity text, id text, active boolean, version bigint,
               body text, updated_us bigint)
LANGUAGE plpgsql AS $$
DECLARE
    part text[];
BEGIN
    FOR part IN SELECT c FROM chunks_of(recs, 5000) AS c LOOP
        RETURN QUERY SELECT * FROM building_refresh_part(part);
    END LOOP;
    IF cardinality(ids) > 0 THEN
        RETURN QUERY SELECT * FROM entity_view_put('building', (
            SELECT coalesce(jsonb_agg(jsonb_build_object('id', v.id,
                                                         'body', v.body)),
                            '[]')
            FROM building_view_of(ids) v), ids);
    END IF;
END $$;

INSERT INTO view_dirty
SELECT 'building_gone', e.id FROM entity_view e
WHERE e.entity = 'building' AND e.active
  AND e.id NOT IN (SELECT l.view_id FROM view_link l
                   WHERE l.entity = 'building')
ON CONFLICT DO NOTHING;
