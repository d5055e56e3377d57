-- The grid view records of 016, derived in time linear in the grids.
--
-- 016 added each grid's counts up over its subtree by joining every grid
-- asked for to every grid whose path contains it (a.code = ANY (g.path)),
-- and matched the codes asked for, the staff and the grids with
-- `= ANY (codes)` on unindexed scans. Both are a comparison per pair: at
-- the city preset's 15,112 grids one refresh of the grids a batch touched
-- took 6 s (16 batches, 98 s of a 286 s load at --scale 0.01). Here every
-- tallied grid adds itself to each code on its path (a grid's path is its
-- subtree turned round), and the codes are a set joined by hash. Same
-- records as 016. The tallies `t` NULL: those grid_tally holds, read
-- where they are rather than sent in as JSON (the refresh's case; the
-- recount passes the ones it counted afresh).
CREATE OR REPLACE FUNCTION grid_view_of(codes text[], t jsonb)
RETURNS TABLE (code text, body jsonb) LANGUAGE sql STABLE AS $$
    WITH want AS (SELECT DISTINCT unnest(codes) AS code),
    tally AS (
        SELECT * FROM jsonb_to_recordset(t) AS x(code text,
               residents int, registered int, floating int, households int,
               party_members int, volunteers int, open_events int)
        WHERE t IS NOT NULL
        UNION ALL
        SELECT * FROM grid_tally WHERE t IS NULL),
    sums AS (
        SELECT p.code, sum(x.residents) AS residents,
               sum(x.registered) AS registered, sum(x.floating) AS floating,
               sum(x.households) AS households,
               sum(x.party_members) AS party_members,
               sum(x.volunteers) AS volunteers,
               sum(x.open_events) AS open_events
        FROM tally x JOIN grid g ON g.code = x.code
        CROSS JOIN LATERAL unnest(g.path) AS p(code)
        JOIN want w ON w.code = p.code
        GROUP BY p.code),
    members AS (
        SELECT m.* FROM grid_staff_member m JOIN want w
          ON w.code = m.grid_code),
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
        FROM (SELECT m.*, t.person_id FROM members m
              LEFT JOIN persons_of_id_keys(ARRAY(
                  SELECT DISTINCT id_key FROM members)) t
                ON t.k = m.id_key) r
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
    FROM grid g JOIN want w ON w.code = g.code
    LEFT JOIN sums s ON s.code = g.code
    LEFT JOIN staff st ON st.grid_code = g.code
$$;
