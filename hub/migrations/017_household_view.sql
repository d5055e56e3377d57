-- The household view for subscribers (docs/grid.md, "Subscriber views"):
-- golden households as view household_record names them, each with every
-- department's record of it and its members as golden persons, kept
-- incrementally like the grid and event views (016).

-- Which view record each department record belongs to now, so a record
-- that moves to another household (its head resolved to another person)
-- refreshes both.
CREATE TABLE view_link (
    entity     text NOT NULL,
    department text NOT NULL,
    source_key text NOT NULL,
    view_id    text NOT NULL,
    PRIMARY KEY (entity, department, source_key)
);
CREATE INDEX view_link_id ON view_link (entity, view_id);
CREATE INDEX source_row_household_key
    ON source_row (department, (row ->> 'household_key'))
    WHERE entity = 'household_member';

-- The household view records (schemas/view_household.avsc, without
-- version and updated_at) of the given golden household ids, from the
-- records view_link puts in them.
CREATE FUNCTION household_view_of(ids text[])
RETURNS TABLE (id text, body jsonb) LANGUAGE sql STABLE AS $$
    WITH rec AS (
        SELECT l.view_id, r.department, r.source_key, r.row
        FROM view_link l JOIN source_row r ON r.department = l.department
         AND r.entity = 'household' AND r.source_key = l.source_key
        WHERE l.entity = 'household' AND l.view_id = ANY (ids)
          AND NOT r.deleted),
    mem AS (
        SELECT rec.view_id, m.department, m.source_key, m.row, m.id_key
        FROM rec JOIN source_row m ON m.entity = 'household_member'
         AND m.department = rec.department
         AND m.row ->> 'household_key' = rec.source_key
        WHERE NOT m.deleted),
    mp AS (
        SELECT mem.view_id, mem.department, mem.source_key,
               mem.row ->> 'name' AS name, mem.row ->> 'relation' AS relation,
               coalesce(sp.person_id, t.person_id) AS person_id
        FROM mem
        LEFT JOIN source_person sp ON sp.department = mem.department
         AND sp.source_key = mem.row ->> 'person_key' AND NOT sp.deleted
        LEFT JOIN persons_of_id_keys(ARRAY(SELECT id_key FROM mem)) t
          ON t.k = mem.id_key),
    members AS (
        SELECT view_id, jsonb_agg(jsonb_build_object(
                 'person_id', person_id, 'name', name, 'relation', relation,
                 'department', department, 'source_key', source_key)
               ORDER BY person_id NULLS LAST, department, source_key) AS m
        FROM mp GROUP BY view_id)
    SELECT rec.view_id, jsonb_build_object(
        'household_id', rec.view_id,
        'head_person_id', CASE WHEN rec.view_id NOT LIKE 'H:%'
                          THEN 'P' || substr(rec.view_id, 2) END,
        'grid_code', (array_agg(rec.row ->> 'grid_code' ORDER BY g.depth
                      DESC NULLS LAST, rec.department))[1],
        'records', jsonb_agg(jsonb_build_object(
            'department', rec.department, 'source_key', rec.source_key,
            'household_number', rec.row ->> 'household_number',
            'head_name', rec.row ->> 'head_name',
            'grid_code', rec.row ->> 'grid_code',
            'member_count', (rec.row ->> 'member_count')::int)
            ORDER BY rec.department, rec.source_key),
        'members', coalesce(min(members.m::text)::jsonb, '[]'))
    FROM rec LEFT JOIN grid g ON g.code = rec.row ->> 'grid_code'
    LEFT JOIN members ON members.view_id = rec.view_id
    GROUP BY rec.view_id
$$;

-- Links the given household records (department:source_key) to their
-- golden households anew and refreshes every household they left or
-- joined; returns the view records that changed, as entity_view rows.
CREATE FUNCTION household_refresh(recs text[])
RETURNS TABLE (entity text, id text, active boolean, version bigint,
               body text, updated_us bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    ids text[];
    deps text[];
    keys text[];
BEGIN
    SELECT array_agg(split_part(x, ':', 1)),
           array_agg(substr(x, length(split_part(x, ':', 1)) + 2))
    INTO deps, keys FROM (SELECT DISTINCT unnest(recs) AS x) u;
    SELECT array_agg(DISTINCT l.view_id) INTO ids
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
        RETURNING view_id)
    SELECT array_agg(DISTINCT x) INTO ids
    FROM (SELECT unnest(ids) AS x UNION SELECT view_id FROM nw) u;
    RETURN QUERY
    WITH v AS (SELECT * FROM household_view_of(ids)),
    up AS (
        INSERT INTO entity_view AS e (entity, id, active, version, body)
        SELECT 'household', v.id, true, 1, v.body FROM v
        ON CONFLICT (entity, id) DO UPDATE SET active = true,
            version = e.version + 1, body = EXCLUDED.body, updated_at = now()
        WHERE (e.active, e.body) IS DISTINCT FROM (true, EXCLUDED.body)
        RETURNING e.entity, e.id, e.active, e.version, e.body::text,
                  micros(e.updated_at)),
    gone AS (
        UPDATE entity_view e SET active = false, version = e.version + 1,
            updated_at = now()
        WHERE e.entity = 'household' AND e.id = ANY (ids) AND e.active
          AND NOT EXISTS (SELECT 1 FROM v WHERE v.id = e.id)
        RETURNING e.entity, e.id, e.active, e.version, e.body::text,
                  micros(e.updated_at))
    SELECT * FROM up UNION ALL SELECT * FROM gone;
END $$;

-- A hub database older than this migration: every household is linked
-- and published at the first refresh.
INSERT INTO view_dirty
SELECT 'household', department || ':' || source_key FROM source_row
WHERE entity = 'household' AND NOT deleted
ON CONFLICT DO NOTHING;
