-- The persons derived for the first time found without a quadratic plan.
--
-- person_attr_refresh (029) notes the household of each person derived
-- for the first time: those in `up` and `NOT IN (SELECT person_id FROM
-- old)`. A NOT IN subquery cannot become an anti-join (its NULL
-- semantics), so PostgreSQL runs it as a hashed subplan when the set fits
-- in work_mem, and otherwise scans the whole set again for every row: at
-- the end of a tenth of the city's catch-up (415,865 persons, the set
-- spilled to disk) the attributes' statement ran for more than ten
-- minutes at one full core, where the demo's 38,717 fit and took
-- seconds. old.person_id is person_attr's key, never NULL, so NOT EXISTS
-- means the same and is planned as an anti-join. Otherwise as in 029.
CREATE OR REPLACE FUNCTION person_attr_refresh(pids text[], ident text[]) RETURNS text[]
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
        SELECT y.person_id, y.grid_code, y.household_id FROM person_attr y
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
    -- Whose identity may have moved: noted 'person', or retired.
    moved AS (
        SELECT unnest(ident) AS person_id UNION SELECT person_id FROM del),
    -- The households they head and their grids are refreshed whoever the
    -- head now is, and so are those named after them (a head who died or
    -- was merged away heads them no more); the grids a changed person
    -- left and joined are recounted.
    notes AS (
        INSERT INTO view_dirty
        SELECT 'household', unnest(a.heads) FROM person_attr_new a
        WHERE a.person_id IN (SELECT person_id FROM moved)
        UNION SELECT 'household', l.department || ':' || l.source_key
        FROM view_link l
        WHERE l.entity = 'household'
          AND l.view_id IN (SELECT 'H' || substr(x, 2) FROM moved m(x))
        UNION SELECT 'grid', unnest(a.head_grids) FROM person_attr_new a
        WHERE a.person_id IN (SELECT person_id FROM moved)
        UNION SELECT 'household', l.department || ':' || l.source_key
        FROM view_link l
        WHERE l.entity = 'household' AND l.view_id IN (
            SELECT a.household_id FROM person_attr_new a
            WHERE a.person_id IN (SELECT person_id FROM up)
              AND NOT EXISTS (SELECT 1 FROM old o
                              WHERE o.person_id = a.person_id)
            UNION SELECT o.household_id FROM old o
            WHERE o.person_id IN (SELECT person_id FROM del))
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
