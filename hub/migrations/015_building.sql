-- Golden buildings (standard addresses, room by room): 公安's standard
-- addresses and 综治's houses of one place are one building (docs/grid.md,
-- "Buildings"). A view over the rows the hub keeps.
--
-- A record's place is its standard address code when it has one (综治
-- records 公安's code once a house is matched); otherwise its community
-- (from the reference grid it is in), building number and room number,
-- read as digits ("3栋" and "3" are the same building, "301室" and "301"
-- the same room), which finds the record with a code at that place.
CREATE VIEW building_record AS
WITH b AS (
    SELECT s.department, s.source_key,
           s.row ->> 'address_code' AS address_code,
           s.row ->> 'grid_code' AS grid_code,
           coalesce((SELECT c.code FROM grid g JOIN grid c
                     ON c.code = ANY (g.path) AND c.level = 'COMMUNITY'
                     WHERE g.code = s.row ->> 'grid_code' LIMIT 1),
                    s.row ->> 'community_code') AS community,
           (regexp_match(s.row ->> 'building_no', '[0-9]+'))[1] AS building_no,
           (regexp_match(s.row ->> 'unit_no', '[0-9]+'))[1] AS unit_no,
           (regexp_match(s.row ->> 'room_no', '[0-9]+'))[1] AS room_no
    FROM source_row s
    WHERE s.entity = 'building' AND NOT s.deleted),
-- The places that have a code: a hash join, not a scan per record.
coded AS (
    SELECT community, building_no, coalesce(room_no, '') AS room,
           min(address_code) AS address_code
    FROM b WHERE address_code IS NOT NULL
    GROUP BY 1, 2, 3)
SELECT b.*,
       coalesce(b.address_code, c.address_code,
                'B:' || b.department || ':' || b.source_key) AS building_id
FROM b LEFT JOIN coded c ON b.address_code IS NULL
     AND c.community = b.community AND c.building_no = b.building_no
     AND c.room = coalesce(b.room_no, '');
