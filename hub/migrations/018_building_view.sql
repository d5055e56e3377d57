-- The building view for subscribers and each resident's current grid
-- (docs/grid.md, "Buildings" and "Current grid"). Buildings are kept
-- incrementally like the other views (016, 017): the records' places in
-- building_place, each record's golden building in view_link.

-- A large array in pieces of at most n, in order. The view functions are
-- planned for the few rows a parameter is taken for, and some of their
-- joins may loop over a derived table: given 8,000 persons at once, one
-- made 64 million comparisons (found by the recount under the demo), and
-- one household refresh of a snapshot took 41 s where others took 1-3 s.
-- Given in pieces (1,000 persons, 5,000 households or buildings: each
-- piece has a fixed cost too), such a loop stays bounded.
CREATE FUNCTION chunks_of(a text[], n integer) RETURNS SETOF text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT array_agg(x ORDER BY i) FROM unnest(a) WITH ORDINALITY AS u(x, i)
    GROUP BY (i - 1) / n
$$;

-- Where each department's building record is: its standard address code,
-- or its place (community, building and room read as digits).
CREATE TABLE building_place (
    department   text NOT NULL,
    source_key   text NOT NULL,
    address_code text,
    place        text, -- community|building|room; NULL without community and building
    community    text,
    building_no  text,
    unit_no      text,
    room_no      text,
    grid_code    text,
    PRIMARY KEY (department, source_key)
);
CREATE INDEX building_place_place ON building_place (place)
    WHERE place IS NOT NULL;

-- The place of one building row: its community (from the reference grid
-- it is in, else the community code it records), and its building, unit
-- and room numbers as digits ("3栋" and "3" are one building).
CREATE FUNCTION building_place_of(r jsonb)
RETURNS TABLE (community text, building_no text, unit_no text,
               room_no text, place text)
LANGUAGE sql STABLE AS $$
    WITH x AS (
        SELECT coalesce((SELECT c.code FROM grid g JOIN grid c
                         ON c.code = ANY (g.path) AND c.level = 'COMMUNITY'
                         WHERE g.code = r ->> 'grid_code' LIMIT 1),
                        r ->> 'community_code') AS community,
               (regexp_match(r ->> 'building_no', '[0-9]+'))[1] AS building_no,
               (regexp_match(r ->> 'unit_no', '[0-9]+'))[1] AS unit_no,
               (regexp_match(r ->> 'room_no', '[0-9]+'))[1] AS room_no)
    SELECT community, building_no, unit_no, room_no,
           CASE WHEN community IS NOT NULL AND building_no IS NOT NULL
                THEN community || '|' || building_no || '|'
                     || coalesce(room_no, '') END
    FROM x
$$;

-- `gridhub grid building` reads what the hub keeps, as subscribers see it.
DROP VIEW building_record;
CREATE VIEW building_record AS
SELECT p.department, p.source_key, p.address_code, p.grid_code, p.community,
       p.building_no, p.unit_no, p.room_no, l.view_id AS building_id
FROM building_place p JOIN view_link l ON l.entity = 'building'
 AND l.department = p.department AND l.source_key = p.source_key;

-- The golden buildings of the given ids from the records linked to them:
-- the numbers their records agree on (the first department's), the
-- finest reference grid any record gives, and the records.
CREATE FUNCTION building_of(ids text[])
RETURNS TABLE (building_id text, community text, building_no text,
               unit_no text, room_no text, grid_code text, records jsonb)
LANGUAGE sql STABLE AS $$
    SELECT l.view_id,
           (array_agg(p.community ORDER BY p.department, p.source_key)
              FILTER (WHERE p.community IS NOT NULL))[1],
           (array_agg(p.building_no ORDER BY p.department, p.source_key)
              FILTER (WHERE p.building_no IS NOT NULL))[1],
           (array_agg(p.unit_no ORDER BY p.department, p.source_key)
              FILTER (WHERE p.unit_no IS NOT NULL))[1],
           (array_agg(p.room_no ORDER BY p.department, p.source_key)
              FILTER (WHERE p.room_no IS NOT NULL))[1],
           (array_agg(g.code ORDER BY g.depth DESC, p.department,
                      p.source_key) FILTER (WHERE g.code IS NOT NULL))[1],
           jsonb_agg(jsonb_build_object(
               'department', p.department, 'source_key', p.source_key,
               'address_code', p.address_code, 'grid_code', p.grid_code)
             ORDER BY p.department, p.source_key)
    FROM view_link l JOIN building_place p ON p.department = l.department
     AND p.source_key = l.source_key
    LEFT JOIN grid g ON g.code = p.grid_code
    WHERE l.entity = 'building' AND l.view_id = ANY (ids)
    GROUP BY l.view_id
$$;

-- The building view records (schemas/view_building.avsc, without version
-- and updated_at) of the given golden building ids.
CREATE FUNCTION building_view_of(ids text[])
RETURNS TABLE (id text, body jsonb) LANGUAGE sql STABLE AS $$
    SELECT b.building_id, jsonb_build_object(
        'building_id', b.building_id,
        'address_code', CASE WHEN b.building_id NOT LIKE 'B:%'
                        THEN b.building_id END,
        'community_code', b.community, 'building_no', b.building_no,
        'unit_no', b.unit_no, 'room_no', b.room_no,
        'grid_code', b.grid_code,
        'grid_path', coalesce(to_jsonb(g.path), '[]'),
        'records', b.records)
    FROM building_of(ids) b LEFT JOIN grid g ON g.code = b.grid_code
$$;

-- Every change of a view record as entity_view rows: the given records
-- (id, body) put where their body changed, and the ids `gone` that have
-- none any more tombstoned. Shared by every view refresh.
CREATE FUNCTION entity_view_put(ent text, recs jsonb, ids text[])
RETURNS TABLE (entity text, id text, active boolean, version bigint,
               body text, updated_us bigint)
LANGUAGE sql AS $$
    WITH v AS (SELECT x.id, x.body FROM jsonb_to_recordset(recs)
               AS x(id text, body jsonb)),
    up AS (
        INSERT INTO entity_view AS e (entity, id, active, version, body)
        SELECT ent, v.id, true, 1, v.body FROM v
        ON CONFLICT (entity, id) DO UPDATE SET active = true,
            version = e.version + 1, body = EXCLUDED.body, updated_at = now()
        WHERE (e.active, e.body) IS DISTINCT FROM (true, EXCLUDED.body)
        RETURNING e.entity, e.id, e.active, e.version, e.body::text,
                  micros(e.updated_at)),
    gone AS (
        UPDATE entity_view e SET active = false, version = e.version + 1,
            updated_at = now()
        WHERE e.entity = ent AND e.id = ANY (ids) AND e.active
          AND NOT EXISTS (SELECT 1 FROM v WHERE v.id = e.id)
        RETURNING e.entity, e.id, e.active, e.version, e.body::text,
                  micros(e.updated_at))
    SELECT * FROM up UNION ALL SELECT * FROM gone
$$;

-- The household refresh of 017, its view records put by entity_view_put,
-- and the members of a record whose golden household changed (its head
-- resolved later, or to another person) noted by their ID keys: their
-- household_id follows.
CREATE FUNCTION household_refresh_part(recs text[])
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
    INSERT INTO view_dirty
    SELECT DISTINCT 'idkey', m.id_key::text
    FROM unnest(moved) AS mv(r)
    JOIN source_row m ON m.entity = 'household_member'
     AND m.department = split_part(mv.r, ':', 1)
     AND m.row ->> 'household_key'
         = substr(mv.r, length(split_part(mv.r, ':', 1)) + 2)
    WHERE NOT m.deleted AND m.id_key NOT IN (0, -1)
    ON CONFLICT DO NOTHING;
    RETURN QUERY
    SELECT * FROM entity_view_put('household', (
        SELECT coalesce(jsonb_agg(jsonb_build_object('id', v.id,
                                                     'body', v.body)), '[]')
        FROM household_view_of(ids) v), ids);
END $$;

-- In pieces (chunks_of): a snapshot notes every household at once.
CREATE OR REPLACE FUNCTION household_refresh(recs text[])
RETURNS TABLE (entity text, id text, active boolean, version bigint,
               body text, updated_us bigint)
LANGUAGE plpgsql AS $$
DECLARE
    part text[];
BEGIN
    FOR part IN SELECT c FROM chunks_of(recs, 5000) AS c LOOP
        RETURN QUERY SELECT * FROM household_refresh_part(part);
    END LOOP;
END $$;

-- Places the given building records (department:source_key) anew, links
-- every record whose building may have changed with them (those at their
-- places, old and new, and those in the buildings they left), notes the
-- residents of every building concerned (their grid may follow it), and
-- returns the building view records that changed, as entity_view rows.
CREATE FUNCTION building_refresh_part(recs text[])
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

-- In pieces (chunks_of): a snapshot or a change of the hierarchy notes
-- every building at once.
CREATE FUNCTION building_refresh(recs text[])
RETURNS TABLE (entity text, id text, active boolean, version bigint,
               body text, updated_us bigint)
LANGUAGE plpgsql AS $$
DECLARE
    part text[];
BEGIN
    FOR part IN SELECT c FROM chunks_of(recs, 5000) AS c LOOP
        RETURN QUERY SELECT * FROM building_refresh_part(part);
    END LOOP;
END $$;

-- What one source row's change touches, now with building records
-- (department:source_key); otherwise as in 016.
CREATE OR REPLACE FUNCTION source_row_marks(entity text, department text,
                                            source_key text, id_key bigint,
                                            grid_code text,
                                            household_key text)
RETURNS TABLE (kind text, key text) LANGUAGE sql IMMUTABLE AS $$
    SELECT 'idkey', id_key::text
    WHERE entity IN ('residence_registration', 'party_member', 'volunteer',
                     'grid_staff', 'household', 'household_member')
      AND id_key NOT IN (0, -1)
    UNION ALL
    SELECT 'grid', grid_code
    WHERE entity IN ('household', 'grid_event', 'civility_task')
      AND grid_code IS NOT NULL
    UNION ALL
    SELECT 'event', department || ':' || entity || ':' || source_key
    WHERE entity IN ('grid_event', 'civility_task')
    UNION ALL
    SELECT 'household', department || ':' || source_key
    WHERE entity = 'household'
    UNION ALL
    SELECT 'household', department || ':' || household_key
    WHERE entity = 'household_member' AND household_key IS NOT NULL
    UNION ALL
    SELECT 'building', department || ':' || source_key
    WHERE entity = 'building'
$$;

-- ---- The current grid ------------------------------------------------------

-- Each department record's keyed ID blocking key, as source_row.id_key
-- (0: no usable ID; NULL: applied before this migration): the rows naming
-- a resident by ID are found by one key per record rather than by all of
-- the record's blocking keys.
ALTER TABLE source_person ADD COLUMN id_key bigint;

-- A person's attributes now include where they live and the grid derived
-- from it: grid_code is the resident's current grid (grid_basis says
-- from what, grid_source and grid_at name the record), records_grid what
-- the departments' grid codes give (person.grid_code).
ALTER TABLE person_attr
    ADD COLUMN grid_code text,
    ADD COLUMN grid_basis text,
    ADD COLUMN grid_source text,
    ADD COLUMN grid_at bigint,
    ADD COLUMN building_id text,
    ADD COLUMN building_no text,
    ADD COLUMN unit_no text,
    ADD COLUMN room_no text;
CREATE INDEX person_attr_grid ON person_attr (grid_code);
CREATE INDEX person_attr_building ON person_attr (building_id)
    WHERE building_id IS NOT NULL;

-- The attributes of the given persons, as in 016, the building of the
-- residence (the code the registration names, whether or not a building
-- record has it yet: building_refresh notes the residents of a building by
-- it), and the current grid in the documented order:
--   1. a steward's choice of the grid (person_override), else
--   2. the grid of the building the newest residence registration with a
--      standard address code names (the actual residence), unless the
--      departments' grid is the same or a grid inside it (it is finer and
--      agrees), else
--   3. the departments' grid codes by trust and recency (person.grid_code,
--      survivorship).
-- conflict: the building and another department's grid place the person
-- in grids neither of which contains the other (a steward item). The
-- registration's own department is no other claim: 公安's beat is that of
-- the registered address, and registered and actual residence often
-- differ (人户分离).
DROP FUNCTION person_attr_of(text[]);
CREATE FUNCTION person_attr_of(pids text[])
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
        WHERE r.entity IN ('residence_registration', 'party_member',
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

-- Brings person_attr up to date for the given persons, as in 016, and
-- with the current grid: the grids a person left and joined are noted,
-- and a grid_conflict item is opened for a person whose building and
-- records disagree (closed when they no longer do). Returns the persons
-- whose attributes changed.
CREATE OR REPLACE FUNCTION person_attr_refresh(pids text[]) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
    changed text[];
BEGIN
    IF to_regclass('pg_temp.person_attr_new') IS NULL THEN
        CREATE TEMP TABLE person_attr_new ON COMMIT DROP AS
        SELECT * FROM person_attr_of('{}') WITH NO DATA;
    ELSE
        TRUNCATE person_attr_new;
    END IF;
    INSERT INTO person_attr_new
    SELECT x.* FROM chunks_of(pids, 1000) AS c(part),
           LATERAL person_attr_of(c.part) x
    WHERE NOT EXISTS (SELECT 1 FROM person p
                      WHERE p.person_id = x.person_id AND NOT p.active);
    -- A steward looks at the disagreement; the grid stays the building's.
    INSERT INTO steward_item AS s (kind, person_a, field, evidence)
    SELECT 'grid_conflict', x.person_id, 'grid_code', jsonb_build_object(
        'field', 'grid_code', 'chosen', x.grid_code, 'basis', 'BUILDING',
        'values', jsonb_build_array(
            jsonb_build_object('basis', 'BUILDING',
                'building_id', x.building_id, 'value', x.grid_code,
                'department', split_part(x.grid_source, ':', 1),
                'source_key', substr(x.grid_source,
                    length(split_part(x.grid_source, ':', 1)) + 2),
                'updated_at', x.grid_at),
            jsonb_build_object('basis', 'RECORDS', 'value', x.records_grid,
                'department', (SELECT pv ->> 'department' FROM person p,
                    jsonb_array_elements(p.provenance) pv
                    WHERE p.person_id = x.person_id
                      AND pv ->> 'field' = 'grid_code' LIMIT 1),
                'source_key', (SELECT pv ->> 'source_key' FROM person p,
                    jsonb_array_elements(p.provenance) pv
                    WHERE p.person_id = x.person_id
                      AND pv ->> 'field' = 'grid_code' LIMIT 1))))
    FROM person_attr_new x WHERE x.conflict
    ON CONFLICT (kind, person_a, (coalesce(person_b, '')),
                 (coalesce(field, ''))) WHERE status = 'open'
    DO UPDATE SET evidence = EXCLUDED.evidence, updated_at = now()
    WHERE s.evidence IS DISTINCT FROM EXCLUDED.evidence;
    UPDATE steward_item s SET status = 'obsolete', updated_at = now()
    WHERE s.status = 'open' AND s.kind = 'grid_conflict'
      AND s.person_a = ANY (pids)
      AND NOT EXISTS (SELECT 1 FROM person_attr_new x
                      WHERE x.person_id = s.person_a AND x.conflict);
    WITH old AS (
        SELECT y.person_id, y.grid_code FROM person_attr y
        WHERE y.person_id = ANY (pids)),
    del AS (
        DELETE FROM person_attr y WHERE y.person_id = ANY (pids)
          AND NOT EXISTS (SELECT 1 FROM person_attr_new a
                          WHERE a.person_id = y.person_id)
        RETURNING y.person_id, y.grid_code),
    up AS (
        INSERT INTO person_attr AS y (person_id, registration_type,
            valid_until, party_member, volunteer, staff_role, household_id,
            grid_code, grid_basis, grid_source, grid_at, building_id,
            building_no, unit_no, room_no)
        SELECT a.person_id, a.registration_type, a.valid_until,
               a.party_member, a.volunteer, a.staff_role, a.household_id,
               a.grid_code, a.grid_basis, a.grid_source, a.grid_at,
               a.building_id, a.building_no, a.unit_no, a.room_no
        FROM person_attr_new a
        ON CONFLICT (person_id) DO UPDATE SET
            registration_type = EXCLUDED.registration_type,
            valid_until = EXCLUDED.valid_until,
            party_member = EXCLUDED.party_member,
            volunteer = EXCLUDED.volunteer, staff_role = EXCLUDED.staff_role,
            household_id = EXCLUDED.household_id,
            grid_code = EXCLUDED.grid_code, grid_basis = EXCLUDED.grid_basis,
            grid_source = EXCLUDED.grid_source, grid_at = EXCLUDED.grid_at,
            building_id = EXCLUDED.building_id,
            building_no = EXCLUDED.building_no, unit_no = EXCLUDED.unit_no,
            room_no = EXCLUDED.room_no
        WHERE (y.registration_type, y.valid_until, y.party_member,
               y.volunteer, y.staff_role, y.household_id, y.grid_code,
               y.grid_basis, y.grid_source, y.grid_at, y.building_id,
               y.building_no, y.unit_no, y.room_no)
              IS DISTINCT FROM (EXCLUDED.registration_type,
               EXCLUDED.valid_until, EXCLUDED.party_member,
               EXCLUDED.volunteer, EXCLUDED.staff_role, EXCLUDED.household_id,
               EXCLUDED.grid_code, EXCLUDED.grid_basis, EXCLUDED.grid_source,
               EXCLUDED.grid_at, EXCLUDED.building_id, EXCLUDED.building_no,
               EXCLUDED.unit_no, EXCLUDED.room_no)
        RETURNING y.person_id, y.grid_code),
    -- The households they head and their grids are refreshed whoever the
    -- head now is, and so are those named after them (a head who died or
    -- was merged away heads them no more); the grids a changed person
    -- left and joined are recounted.
    notes AS (
        INSERT INTO view_dirty
        SELECT 'household', unnest(a.heads) FROM person_attr_new a
        UNION SELECT 'household', l.department || ':' || l.source_key
        FROM view_link l
        WHERE l.entity = 'household'
          AND l.view_id IN (SELECT 'H' || substr(x, 2) FROM unnest(pids) x)
        UNION SELECT 'grid', unnest(a.head_grids) FROM person_attr_new a
        UNION SELECT 'grid', g FROM (
            SELECT grid_code FROM up UNION SELECT grid_code FROM del
            UNION SELECT o.grid_code FROM old o
            WHERE o.person_id IN (SELECT person_id FROM up)) c(g)
        WHERE g IS NOT NULL
        ON CONFLICT DO NOTHING)
    SELECT coalesce(array_agg(person_id), '{}') INTO changed
    FROM (SELECT person_id FROM up UNION ALL SELECT person_id FROM del) c;
    RETURN changed;
END $$;

-- The person view's attributes (schemas/view_person.avsc) as JSON text.
CREATE OR REPLACE FUNCTION person_attr_json(pid text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT (to_jsonb(a) - 'person_id')::text FROM person_attr a
    WHERE a.person_id = pid
$$;

-- The residents of the given grid codes by their current grid. fresh:
-- as the recount derived them afresh into its temporary table
-- person_attr_fresh (gridhub grid recount, one derivation for both of
-- its checks), else as person_attr holds them (the incremental refresh).
CREATE OR REPLACE FUNCTION residents_of(codes text[], fresh boolean)
RETURNS TABLE (code text, registration_type text, party_member boolean,
               volunteer boolean)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF fresh THEN
        RETURN QUERY
        SELECT a.grid_code, a.registration_type, a.party_member, a.volunteer
        FROM pg_temp.person_attr_fresh a
        WHERE a.grid_code = ANY (codes);
    ELSE
        RETURN QUERY
        SELECT a.grid_code, a.registration_type, a.party_member, a.volunteer
        FROM person_attr a JOIN person p USING (person_id)
        WHERE p.active AND a.grid_code = ANY (codes);
    END IF;
END $$;

-- A steward's choice of a field changes what the person's attributes
-- derive from (the current grid).
CREATE FUNCTION person_override_noted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO view_dirty SELECT DISTINCT 'person', person_id FROM new_rows
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER person_override_noted_ins AFTER INSERT ON person_override
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION person_override_noted();
CREATE TRIGGER person_override_noted_upd AFTER UPDATE ON person_override
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION person_override_noted();

-- A hub database older than this migration: every resident's attributes
-- and every building are derived at the first refresh.
INSERT INTO view_dirty
SELECT 'person', person_id FROM person WHERE active
UNION ALL
SELECT 'building', department || ':' || source_key FROM source_row
WHERE entity = 'building' AND NOT deleted
ON CONFLICT DO NOTHING;
