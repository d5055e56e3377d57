-- Two steps of the view refreshes that compared every row with every
-- other (docs/performance.md, "Plans of the view refreshes").
--
-- With auto_explain (timing on) over a demo load: the building relink
-- joined each chunk's records with the places' single codes (`one`,
-- `bygrid`) in nested loops, 1.5 to 15.9 million rows rejected a chunk
-- (0.3 to 1.6 s); retiring the grid-conflict items no longer open read the
-- round's new attributes once for each open item (1,430 items, 1,021,735
-- rows rejected, 2.5 s). Both come from estimates: building_place grows
-- through a catch-up faster than autovacuum analyzes it, and a temporary
-- table is never analyzed (analyzing person_attr_new and building_relink
-- was tried: the plans stayed). So neither depends on the planner's
-- choice any more: the single codes are looked up in jsonb maps built once
-- a chunk (a binary search per record), and the open items are checked
-- against arrays of constants, which PostgreSQL hashes (custom plans,
-- forced for the function). Otherwise as in 019 and 020.
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
    -- place -> its one code; place -> grid -> the one code in that grid
    one_code jsonb;
    grid_codes jsonb;
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
    SELECT coalesce(jsonb_object_agg(c.place, c.code), '{}') INTO one_code
    FROM (SELECT p.place, min(p.address_code) AS code FROM building_place p
          WHERE p.place = ANY (places) AND p.address_code IS NOT NULL
          GROUP BY p.place
          HAVING count(DISTINCT p.address_code) = 1) c;
    SELECT coalesce(jsonb_object_agg(g.place, g.codes), '{}') INTO grid_codes
    FROM (SELECT c.place, jsonb_object_agg(c.grid_code, c.code) AS codes
          FROM (SELECT p.place, p.grid_code, min(p.address_code) AS code
                FROM building_place p
                WHERE p.place = ANY (places) AND p.address_code IS NOT NULL
                  AND p.grid_code IS NOT NULL
                GROUP BY p.place, p.grid_code
                HAVING count(DISTINCT p.address_code) = 1) c
          GROUP BY c.place) g;
    WITH nw AS (
        INSERT INTO view_link
        SELECT 'building', p.department, p.source_key,
               coalesce(p.address_code, one_code ->> p.place,
                        grid_codes -> p.place ->> p.grid_code,
                        'B:' || p.department || ':' || p.source_key)
        FROM building_relink a JOIN building_place p
          ON p.department = a.department AND p.source_key = a.source_key
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

CREATE OR REPLACE FUNCTION person_attr_refresh(pids text[]) RETURNS text[]
LANGUAGE plpgsql SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    changed text[];
    conflicted text[];
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
    SELECT coalesce(array_agg(x.person_id), '{}') INTO conflicted
    FROM person_attr_new x WHERE x.conflict;
    UPDATE steward_item s SET status = 'obsolete', updated_at = now()
    WHERE s.status = 'open' AND s.kind = 'grid_conflict'
      AND s.person_a = ANY (pids) AND s.person_a <> ALL (conflicted);
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
            building_no, unit_no, room_no, family_planning)
        SELECT a.person_id, a.registration_type, a.valid_until,
               a.party_member, a.volunteer, a.staff_role, a.household_id,
               a.grid_code, a.grid_basis, a.grid_source, a.grid_at,
               a.building_id, a.building_no, a.unit_no, a.room_no,
               a.family_planning
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
            room_no = EXCLUDED.room_no,
            family_planning = EXCLUDED.family_planning
        WHERE (y.registration_type, y.valid_until, y.party_member,
               y.volunteer, y.staff_role, y.household_id, y.grid_code,
               y.grid_basis, y.grid_source, y.grid_at, y.building_id,
               y.building_no, y.unit_no, y.room_no, y.family_planning)
              IS DISTINCT FROM (EXCLUDED.registration_type,
               EXCLUDED.valid_until, EXCLUDED.party_member,
               EXCLUDED.volunteer, EXCLUDED.staff_role, EXCLUDED.household_id,
               EXCLUDED.grid_code, EXCLUDED.grid_basis, EXCLUDED.grid_source,
               EXCLUDED.grid_at, EXCLUDED.building_id, EXCLUDED.building_no,
               EXCLUDED.unit_no, EXCLUDED.room_no, EXCLUDED.family_planning)
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
