-- Family-planning records (计生) linked to residents: the person view's
-- family_planning field (schemas/view_person.avsc, version 5).
--
-- A record naming the department's own person record (person_key: a
-- birth registration names the child, who may have no ID number yet)
-- goes with the golden person that record resolved to; one naming none
-- goes by its ID number, like every other entity's rows. Which subscriber
-- sees the field is the policy's business (ops/policy/city.policy grants
-- it to the family-planning department alone).

ALTER TABLE person_attr ADD COLUMN family_planning jsonb NOT NULL
    DEFAULT '[]';

-- The rows naming a resident by ID, now with family-planning ones (the
-- index is what person_attr_of's candidates are read by), and those
-- naming the department's own person record.
CREATE INDEX source_row_id_key_v2 ON source_row (id_key)
    WHERE entity IN ('residence_registration', 'party_member', 'volunteer',
                     'grid_staff', 'household', 'household_member',
                     'family_planning');
DROP INDEX source_row_id_key;
ALTER INDEX source_row_id_key_v2 RENAME TO source_row_id_key;
CREATE INDEX source_row_person_key
    ON source_row (department, (row ->> 'person_key'))
    WHERE entity = 'family_planning';
-- A family-planning row's change notes its ID key (the persons of the ID)
-- and the department's person record it names as 'fp'
-- (department:person_key). The trigger notes the old side of a change too,
-- so the person a record moved away from, or was deleted or truncated
-- from, is derived again as well as the one it moved to. Otherwise as in
-- 018, with person_key as a seventh argument.
DROP FUNCTION source_row_marks(text, text, text, bigint, text, text);
CREATE FUNCTION source_row_marks(entity text, department text,
                                 source_key text, id_key bigint,
                                 grid_code text, household_key text,
                                 person_key text)
RETURNS TABLE (kind text, key text) LANGUAGE sql IMMUTABLE AS $$
    SELECT 'idkey', id_key::text
    WHERE entity IN ('residence_registration', 'party_member', 'volunteer',
                     'grid_staff', 'household', 'household_member',
                     'family_planning')
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
    UNION ALL
    SELECT 'fp', department || ':' || person_key
    WHERE entity = 'family_planning' AND person_key IS NOT NULL
$$;


-- As in 016, passing person_key.
CREATE OR REPLACE FUNCTION source_row_noted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO view_dirty
        SELECT DISTINCT m.kind, m.key FROM new_rows r,
               LATERAL source_row_marks(r.entity, r.department, r.source_key,
                                        r.id_key, r.row ->> 'grid_code',
                                        r.row ->> 'household_key',
                                        r.row ->> 'person_key') m
        ON CONFLICT DO NOTHING;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO view_dirty
        SELECT DISTINCT m.kind, m.key FROM old_rows r,
               LATERAL source_row_marks(r.entity, r.department, r.source_key,
                                        r.id_key, r.row ->> 'grid_code',
                                        r.row ->> 'household_key',
                                        r.row ->> 'person_key') m
        ON CONFLICT DO NOTHING;
    ELSE
        INSERT INTO view_dirty
        WITH n AS (SELECT department, entity, source_key, deleted, id_key,
                          source_row_unsealed(row) AS row FROM new_rows),
        o AS (SELECT department, entity, source_key, deleted, id_key,
                     source_row_unsealed(row) AS row FROM old_rows),
        c AS ((SELECT * FROM n EXCEPT SELECT * FROM o)
              UNION ALL (SELECT * FROM o EXCEPT SELECT * FROM n))
        SELECT DISTINCT m.kind, m.key FROM c r,
               LATERAL source_row_marks(r.entity, r.department, r.source_key,
                                        r.id_key, r.row ->> 'grid_code',
                                        r.row ->> 'household_key',
                                        r.row ->> 'person_key') m
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;

-- The return type gains a column: dropped and made again. Otherwise as in
-- 019, with the family-planning records (oldest first) of each person.
DROP FUNCTION person_attr_of(text[]);
CREATE FUNCTION person_attr_of(pids text[])
RETURNS TABLE (person_id text, registration_type text, valid_until date,
               party_member boolean, volunteer boolean, staff_role text,
               household_id text, grid_code text, grid_basis text,
               grid_source text, grid_at bigint, building_id text,
               building_no text, unit_no text, room_no text,
               records_grid text, conflict boolean, heads text[],
               head_grids text[], family_planning jsonb)
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
                           'household_member', 'family_planning')
          AND NOT r.deleted),
    -- A family-planning record naming the department's own person record
    -- (person_key) belongs to whoever that record resolved to; only one
    -- naming none (or one the department no longer has) goes by its ID.
    -- Both lookups are lateral subqueries fenced by LIMIT/OFFSET: one
    -- index probe per row whatever the statistics say (as joins, or with
    -- the keys as arrays, they were planned during a catch-up as a scan of
    -- every family-planning row or every person record per chunk).
    linked AS (
        SELECT c.* FROM cand c
        JOIN persons_of_id_keys(ARRAY(SELECT DISTINCT id_key FROM cand)) t
          ON t.k = c.id_key AND t.person_id = c.pid
        LEFT JOIN LATERAL (
            SELECT true AS named FROM source_person s
            WHERE s.department = c.department
              AND s.source_key = c.row ->> 'person_key'
              AND NOT s.deleted AND s.person_id IS NOT NULL
            LIMIT 1) n ON c.entity = 'family_planning'
        WHERE n.named IS NULL),
    own_fp AS (
        SELECT sp.person_id AS pid, r.department, r.source_key,
               r.rt, r.ed
        FROM source_person sp
        CROSS JOIN LATERAL (
            SELECT x.department, x.source_key,
                   x.row ->> 'record_type' AS rt,
                   x.row ->> 'event_date' AS ed
            FROM source_row x
            WHERE x.entity = 'family_planning'
              AND x.department = sp.department
              AND x.row ->> 'person_key' = sp.source_key
              AND NOT x.deleted
            OFFSET 0) r
        WHERE sp.person_id = ANY (pids) AND NOT sp.deleted),
    fp AS (
        SELECT pid, jsonb_agg(jsonb_build_object(
                   'record_type', rt, 'event_date', ed,
                   'department', department, 'source_key', source_key)
                 ORDER BY ed NULLS FIRST, department, source_key) AS recs
        FROM (SELECT l.pid, l.department, l.source_key,
                     l.row ->> 'record_type' AS rt,
                     l.row ->> 'event_date' AS ed
              FROM linked l WHERE l.entity = 'family_planning'
              UNION
              SELECT pid, department, source_key, rt, ed FROM own_fp) x
        GROUP BY pid),
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
        SELECT u.pid, fp.recs AS fprecs, a.rt, a.vu, a.pm, a.vol, a.role, a.head, a.heads,
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
        LEFT JOIN bld b ON b.building_id = a.res[1][1]
        LEFT JOIN fp ON fp.pid = u.pid),
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
           heads, head_grids, coalesce(fprecs, '[]')
    FROM pick
$$;

-- As in 018, with family_planning kept and compared.
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

-- A hub database older than this migration: every resident a
-- family-planning row names is derived again at the first refresh.
INSERT INTO view_dirty
SELECT DISTINCT m.kind, m.key FROM source_row r,
       LATERAL source_row_marks(r.entity, r.department, r.source_key,
                                r.id_key, NULL, NULL, r.row ->> 'person_key') m
WHERE r.entity = 'family_planning' AND NOT r.deleted
ON CONFLICT DO NOTHING;
