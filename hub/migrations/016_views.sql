-- The subscriber views besides persons (docs/grid.md, "Subscriber views"):
-- grids with their staff and counts, and grid events. They are derived
-- from person, source_row and the grid hierarchy, and kept incrementally:
-- triggers note what a statement changed (view_dirty), and the batch that
-- made the change refreshes exactly those records before it commits
-- (gh_grid_views), so a view never disagrees with what it is made of and
-- a crash loses nothing (the notes are in the same transaction).

-- Every derived record as the subscribers' feed reads it: its body is the
-- view schema's record without version and updated_at, so an unchanged
-- body is not a new version.
CREATE TABLE entity_view (
    entity     text        NOT NULL,
    id         text        NOT NULL,
    active     boolean     NOT NULL,
    version    bigint      NOT NULL,
    body       jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (entity, id)
);

-- What changed since the views were last refreshed: 'person' (person_id
-- whose records changed: the households they head may have another id),
-- 'idkey' (a row naming a resident by ID changed),
-- 'grid' (a grid whose counts may have changed), 'event'
-- (department:entity:source_key).
CREATE TABLE view_dirty (
    kind text NOT NULL,
    key  text NOT NULL,
    PRIMARY KEY (kind, key)
);

-- Each golden person's attributes from the rows linked to them by ID
-- (docs/grid.md, "Person attributes"): fields of the person view, and
-- what the grid counts are made of.
CREATE TABLE person_attr (
    person_id         text PRIMARY KEY,
    registration_type text,
    valid_until       date,
    party_member      boolean NOT NULL,
    volunteer         boolean NOT NULL,
    staff_role        text,
    household_id      text
);

-- Counts per grid code exactly (not under it); a grid's view adds up the
-- codes of its subtree.
CREATE TABLE grid_tally (
    code          text PRIMARY KEY,
    residents     integer NOT NULL,
    registered    integer NOT NULL,
    floating      integer NOT NULL,
    households    integer NOT NULL,
    party_members integer NOT NULL,
    volunteers    integer NOT NULL,
    open_events   integer NOT NULL
);

-- The lookups the refresh makes, restricted to the rows they serve so
-- the snapshot of the other entities pays for as little as possible.
CREATE INDEX person_grid ON person (grid_code) WHERE active;
CREATE INDEX source_row_id_key ON source_row (id_key)
    WHERE entity IN ('residence_registration', 'party_member', 'volunteer',
                     'grid_staff', 'household', 'household_member');
CREATE INDEX source_row_grid ON source_row ((row ->> 'grid_code'))
    WHERE entity IN ('household', 'grid_event', 'civility_task');

-- ---- Noting changes --------------------------------------------------------

-- A new person is noted with its grid; an updated one only if its grid,
-- its activity or its records changed (the golden write also updates
-- names, phones, versions; a key rotation re-seals every row), with the
-- grids it left and joined. Told apart by set difference: a join of the
-- two transition tables, which the planner knows nothing about, can turn
-- into a nested loop over 20k x 20k rows.
CREATE FUNCTION person_noted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO view_dirty
        SELECT 'grid', grid_code FROM new_rows WHERE grid_code IS NOT NULL
        UNION SELECT 'person', person_id FROM new_rows
        ON CONFLICT DO NOTHING;
    ELSE
        INSERT INTO view_dirty
        WITH n AS (SELECT person_id, grid_code, active, sources FROM new_rows
                   EXCEPT
                   SELECT person_id, grid_code, active, sources FROM old_rows),
        o AS (SELECT person_id, grid_code, active, sources FROM old_rows
              EXCEPT
              SELECT person_id, grid_code, active, sources FROM new_rows)
        SELECT 'grid', grid_code FROM n WHERE grid_code IS NOT NULL
        UNION SELECT 'grid', grid_code FROM o WHERE grid_code IS NOT NULL
        UNION SELECT 'person', person_id FROM n
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER person_noted_ins AFTER INSERT ON person
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION person_noted();
CREATE TRIGGER person_noted_upd AFTER UPDATE ON person
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION person_noted();

-- What one source row's change touches. Household records (017) are
-- noted as 'household' (department:source_key): a household row itself,
-- or the household a member row names.
CREATE FUNCTION source_row_marks(entity text, department text,
                                 source_key text, id_key bigint,
                                 grid_code text, household_key text)
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
$$;

-- A row without the values sealed at rest: re-sealing them under a new
-- key (gridhub keys rotate) changes nothing a view shows.
CREATE FUNCTION source_row_unsealed(r jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_object_agg(k, v), '{}') FROM jsonb_each(r) AS e(k, v)
    WHERE k !~ '(id_number|phone|address)$'
$$;

-- Inserted and deleted rows are noted; an updated row only if something
-- besides its sealed values changed, both its old and its new side (set
-- difference rather than a join of the transition tables, as for person).
CREATE FUNCTION source_row_noted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO view_dirty
        SELECT DISTINCT m.kind, m.key FROM new_rows r,
               LATERAL source_row_marks(r.entity, r.department, r.source_key,
                                        r.id_key, r.row ->> 'grid_code',
                                        r.row ->> 'household_key') m
        ON CONFLICT DO NOTHING;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO view_dirty
        SELECT DISTINCT m.kind, m.key FROM old_rows r,
               LATERAL source_row_marks(r.entity, r.department, r.source_key,
                                        r.id_key, r.row ->> 'grid_code',
                                        r.row ->> 'household_key') m
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
                                        r.row ->> 'household_key') m
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER source_row_noted_ins AFTER INSERT ON source_row
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION source_row_noted();
CREATE TRIGGER source_row_noted_upd AFTER UPDATE ON source_row
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION source_row_noted();
CREATE TRIGGER source_row_noted_del AFTER DELETE ON source_row
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION source_row_noted();

-- ---- Deriving ---------------------------------------------------------------

-- The golden person each of the blocking keys points at, as
-- person_of_id_key does one by one (most records, then the lowest id).
CREATE FUNCTION persons_of_id_keys(keys bigint[])
RETURNS TABLE (k bigint, person_id text) LANGUAGE sql STABLE AS $$
    SELECT DISTINCT ON (b.block_key) b.block_key, sp.person_id
    FROM person_block b JOIN source_person sp ON sp.rec_id = b.rec_id
    WHERE b.block_key = ANY (keys) AND b.block_key NOT IN (0, -1)
      AND NOT sp.deleted AND sp.person_id IS NOT NULL
    GROUP BY b.block_key, sp.person_id
    ORDER BY b.block_key, count(*) DESC, sp.person_id
$$;

-- The attributes of the given persons from the rows linked to them (the
-- rows whose ID's blocking key points at them): the newest residence
-- registration's type and validity, party membership, volunteering, the
-- highest grid-staff role, and the golden household (the one they head,
-- else the one a member row puts them in: H + its head's person number,
-- as view household_record names it); and the household records the
-- person heads with their grids (a household's identity is its head's).
-- One row per person given.
CREATE FUNCTION person_attr_of(pids text[])
RETURNS TABLE (person_id text, registration_type text, valid_until date,
               party_member boolean, volunteer boolean, staff_role text,
               household_id text, heads text[], head_grids text[])
LANGUAGE sql STABLE AS $$
    WITH keys AS (
        SELECT DISTINCT sp.person_id AS pid, b.block_key AS k
        FROM source_person sp JOIN person_block b ON b.rec_id = sp.rec_id
        WHERE sp.person_id = ANY (pids) AND NOT sp.deleted),
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
             DESC NULLS LAST) FILTER (WHERE entity = 'residence_registration'
           ))[1] AS rt,
          (array_agg(row ->> 'valid_until' ORDER BY row ->> 'updated_at'
             DESC NULLS LAST) FILTER (WHERE entity = 'residence_registration'
           ))[1] AS vu,
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
                    AND row ->> 'grid_code' IS NOT NULL) AS head_grids
        FROM linked GROUP BY pid)
    SELECT u.pid, a.rt, a.vu::date, coalesce(a.pm, false),
           coalesce(a.vol, false), a.role,
           CASE WHEN a.head THEN 'H' || substr(u.pid, 2) ELSE m.hid END,
           a.heads, a.head_grids
    FROM (SELECT DISTINCT unnest(pids) AS pid) u
    LEFT JOIN agg a ON a.pid = u.pid LEFT JOIN member_of m ON m.pid = u.pid
$$;

-- Brings person_attr up to date for the given persons (those the person
-- table has retired lose theirs) and notes the grids of those whose
-- attributes changed; returns the persons whose attributes changed.
CREATE FUNCTION person_attr_refresh(pids text[]) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
    changed text[];
BEGIN
    WITH x AS (
        SELECT x.* FROM person_attr_of(pids) x
        WHERE NOT EXISTS (SELECT 1 FROM person p
                          WHERE p.person_id = x.person_id AND NOT p.active)),
    -- The households they head and their grids: to be refreshed, whoever
    -- the head now is.
    heads AS (
        INSERT INTO view_dirty
        SELECT 'household', unnest(x.heads) FROM x
        UNION SELECT 'grid', unnest(x.head_grids) FROM x
        ON CONFLICT DO NOTHING),
    a AS (
        SELECT x.person_id, x.registration_type, x.valid_until,
               x.party_member, x.volunteer, x.staff_role, x.household_id
        FROM x),
    del AS (
        DELETE FROM person_attr y WHERE y.person_id = ANY (pids)
          AND NOT EXISTS (SELECT 1 FROM a WHERE a.person_id = y.person_id)
        RETURNING y.person_id),
    up AS (
        INSERT INTO person_attr AS y SELECT * FROM a
        ON CONFLICT (person_id) DO UPDATE SET
            registration_type = EXCLUDED.registration_type,
            valid_until = EXCLUDED.valid_until,
            party_member = EXCLUDED.party_member,
            volunteer = EXCLUDED.volunteer, staff_role = EXCLUDED.staff_role,
            household_id = EXCLUDED.household_id
        WHERE (y.registration_type, y.valid_until, y.party_member,
               y.volunteer, y.staff_role, y.household_id)
              IS DISTINCT FROM (EXCLUDED.registration_type,
               EXCLUDED.valid_until, EXCLUDED.party_member,
               EXCLUDED.volunteer, EXCLUDED.staff_role, EXCLUDED.household_id)
        RETURNING y.person_id)
    SELECT coalesce(array_agg(person_id), '{}') INTO changed
    FROM (SELECT person_id FROM up UNION ALL SELECT person_id FROM del) c;
    INSERT INTO view_dirty
    SELECT DISTINCT 'grid', grid_code FROM person
    WHERE person_id = ANY (changed) AND grid_code IS NOT NULL
    ON CONFLICT DO NOTHING;
    RETURN changed;
END $$;

-- The person view's attributes (schemas/view_person.avsc) as JSON text.
CREATE FUNCTION person_attr_json(pid text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT (to_jsonb(a) - 'person_id')::text FROM person_attr a
    WHERE a.person_id = pid
$$;

-- The residents of the given grid codes with their attributes. fresh:
-- derived now (the recount check), else as person_attr holds them (the
-- incremental refresh).
CREATE FUNCTION residents_of(codes text[], fresh boolean)
RETURNS TABLE (code text, registration_type text, party_member boolean,
               volunteer boolean)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF fresh THEN
        RETURN QUERY
        SELECT p.grid_code, a.registration_type, a.party_member, a.volunteer
        FROM person p JOIN person_attr_of(ARRAY(
            SELECT x.person_id FROM person x WHERE x.active
              AND x.grid_code = ANY (codes))) a ON a.person_id = p.person_id;
    ELSE
        RETURN QUERY
        SELECT p.grid_code, a.registration_type, a.party_member, a.volunteer
        FROM person p LEFT JOIN person_attr a USING (person_id)
        WHERE p.active AND p.grid_code = ANY (codes);
    END IF;
END $$;

-- Counts per grid code exactly, for the given codes (fresh: as for
-- residents_of).
CREATE FUNCTION grid_tally_of(codes text[], fresh boolean)
RETURNS TABLE (code text, residents integer, registered integer,
               floating integer, households integer, party_members integer,
               volunteers integer, open_events integer)
LANGUAGE sql STABLE AS $$
    WITH res AS (SELECT * FROM residents_of(codes, fresh)),
    rc AS (
        SELECT res.code, count(*) AS n,
               count(*) FILTER (WHERE registration_type = 'HUKOU') AS reg,
               count(*) FILTER (WHERE registration_type = 'FLOATING') AS flo,
               count(*) FILTER (WHERE party_member) AS pm,
               count(*) FILTER (WHERE volunteer) AS vol
        FROM res GROUP BY res.code),
    hrows AS (
        SELECT r.row ->> 'grid_code' AS code, r.department, r.source_key,
               r.id_key
        FROM source_row r
        WHERE r.entity = 'household' AND NOT r.deleted
          AND r.row ->> 'grid_code' = ANY (codes)),
    hc AS (
        SELECT h.code, count(DISTINCT coalesce('H' || substr(t.person_id, 2),
               'H:' || h.department || ':' || h.source_key)) AS n
        FROM hrows h
        LEFT JOIN persons_of_id_keys(ARRAY(SELECT id_key FROM hrows)) t
          ON t.k = h.id_key
        GROUP BY h.code),
    ec AS (
        SELECT r.row ->> 'grid_code' AS code, count(*) AS n
        FROM source_row r
        WHERE r.entity IN ('grid_event', 'civility_task') AND NOT r.deleted
          AND r.row ->> 'grid_code' = ANY (codes)
          AND ((r.entity = 'grid_event'
                AND coalesce(r.row ->> 'status', '') <> 'CLOSED')
               OR (r.entity = 'civility_task'
                AND coalesce(r.row ->> 'status', '') = 'OPEN'))
        GROUP BY 1)
    SELECT c.code, coalesce(rc.n, 0)::int, coalesce(rc.reg, 0)::int,
           coalesce(rc.flo, 0)::int, coalesce(hc.n, 0)::int,
           coalesce(rc.pm, 0)::int, coalesce(rc.vol, 0)::int,
           coalesce(ec.n, 0)::int
    FROM (SELECT DISTINCT unnest(codes) AS code) c
    LEFT JOIN rc ON rc.code = c.code LEFT JOIN hc ON hc.code = c.code
    LEFT JOIN ec ON ec.code = c.code
    WHERE rc.code IS NOT NULL OR hc.code IS NOT NULL OR ec.code IS NOT NULL
$$;

-- A timestamp as Avro's timestamp-micros.
CREATE FUNCTION micros(t timestamptz) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT (extract(epoch FROM t) * 1000000)::bigint
$$;

-- The grid view records (schemas/view_grid.avsc, without version and
-- updated_at) of the given grids, their counts added up over their
-- subtrees from the per-code tallies `t`.
CREATE FUNCTION grid_view_of(codes text[], t jsonb)
RETURNS TABLE (code text, body jsonb) LANGUAGE sql STABLE AS $$
    WITH tally AS (
        SELECT * FROM jsonb_to_recordset(t) AS x(code text,
               residents int, registered int, floating int, households int,
               party_members int, volunteers int, open_events int)),
    sums AS (
        SELECT a.code, sum(x.residents) AS residents,
               sum(x.registered) AS registered, sum(x.floating) AS floating,
               sum(x.households) AS households,
               sum(x.party_members) AS party_members,
               sum(x.volunteers) AS volunteers,
               sum(x.open_events) AS open_events
        FROM grid a JOIN grid g ON a.code = ANY (g.path)
        JOIN tally x ON x.code = g.code
        WHERE a.code = ANY (codes) GROUP BY a.code),
    staff AS (
        SELECT r.grid_code, jsonb_agg(jsonb_build_object(
                 'person_id', r.person_id, 'role', coalesce(r.role, 'UNKNOWN'),
                 'name', r.name, 'department', r.department,
                 'organization', r.organization)
               ORDER BY CASE r.role WHEN 'GRID_LEADER' THEN 0
                 WHEN 'FULL_TIME_MEMBER' THEN 1 WHEN 'PART_TIME_MEMBER' THEN 2
                 WHEN 'LIAISON' THEN 3 ELSE 4 END, r.department,
                 r.source_key) AS members,
               bool_or(r.role = 'GRID_LEADER') AS leader,
               bool_or(r.role = 'FULL_TIME_MEMBER') AS full_time
        FROM (SELECT m.*, t.person_id FROM grid_staff_member m
              LEFT JOIN persons_of_id_keys(ARRAY(
                  SELECT id_key FROM grid_staff_member
                  WHERE grid_code = ANY (codes))) t ON t.k = m.id_key
              WHERE m.grid_code = ANY (codes)) r
        GROUP BY r.grid_code)
    SELECT g.code, jsonb_build_object(
        'grid_code', g.code, 'name', g.name, 'level', g.level,
        'parent_code', g.parent_code, 'path', to_jsonb(g.path),
        'path_names', to_jsonb(g.path_names),
        'staff', coalesce(st.members, '[]'),
        'meets_1_1_n', CASE WHEN g.level = 'GRID' THEN
            coalesce(st.leader AND st.full_time, false) END,
        'residents', coalesce(s.residents, 0),
        'registered', coalesce(s.registered, 0),
        'floating', coalesce(s.floating, 0),
        'households', coalesce(s.households, 0),
        'party_members', coalesce(s.party_members, 0),
        'volunteers', coalesce(s.volunteers, 0),
        'open_events', coalesce(s.open_events, 0))
    FROM grid g LEFT JOIN sums s ON s.code = g.code
    LEFT JOIN staff st ON st.grid_code = g.code
    WHERE g.code = ANY (codes)
$$;

-- The event view records (schemas/view_event.avsc, without version and
-- updated_at) of the given rows (department:entity:source_key); a row
-- deleted or gone has no record.
CREATE FUNCTION event_view_of(ids text[])
RETURNS TABLE (id text, body jsonb) LANGUAGE sql STABLE AS $$
    WITH k AS (
        SELECT i, split_part(i, ':', 1) AS department,
               split_part(i, ':', 2) AS entity,
               substr(i, length(split_part(i, ':', 1))
                         + length(split_part(i, ':', 2)) + 3) AS source_key
        FROM unnest(ids) AS i)
    SELECT k.i, jsonb_build_object(
        'event_id', k.i,
        'kind', CASE r.entity WHEN 'grid_event' THEN 'GRID_EVENT'
                ELSE 'CIVILITY_TASK' END,
        'department', r.department,
        'grid_code', r.row ->> 'grid_code',
        'grid_path', coalesce(to_jsonb(g.path), '[]'),
        'type', coalesce(r.row ->> 'event_type', r.row ->> 'task_type'),
        'status', r.row ->> 'status',
        'open', CASE r.entity
                WHEN 'grid_event' THEN coalesce(r.row ->> 'status', '')
                                       <> 'CLOSED'
                ELSE coalesce(r.row ->> 'status', '') = 'OPEN' END,
        'title', r.row ->> 'title',
        'description', r.row ->> 'description',
        'location', r.row ->> 'location',
        'reported_at', micros((coalesce(r.row ->> 'reported_at',
                                        r.row ->> 'found_at'))::timestamptz),
        'closed_at', micros((coalesce(r.row ->> 'closed_at',
                                      r.row ->> 'fixed_at'))::timestamptz),
        'source_updated_at', micros((r.row ->> 'updated_at')::timestamptz))
    FROM k JOIN source_row r ON r.department = k.department
         AND r.entity = k.entity AND r.source_key = k.source_key
    LEFT JOIN grid g ON g.code = r.row ->> 'grid_code'
    WHERE NOT r.deleted AND r.entity IN ('grid_event', 'civility_task')
$$;

-- A hub database older than this migration: the attributes of every
-- resident some row names are derived at the first refresh (and their
-- person records republished with them); the grids and events are all
-- refreshed at every start anyway (gh_grid_sync).
INSERT INTO view_dirty
SELECT DISTINCT 'idkey', id_key::text FROM source_row
WHERE entity IN ('residence_registration', 'party_member', 'volunteer',
                 'grid_staff', 'household', 'household_member')
  AND id_key NOT IN (0, -1) AND NOT deleted
ON CONFLICT DO NOTHING;
