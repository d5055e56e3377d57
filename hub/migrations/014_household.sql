-- Golden households (docs/grid.md, "Households"), as views over the rows
-- the hub keeps, so they can never disagree with them.
--
-- The golden person a row's id_key points at: the person most records
-- with that ID's blocking key belong to (a wrong check character or a
-- legacy 15-digit ID still finds them). NULL when none.
CREATE FUNCTION person_of_id_key(k bigint) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT sp.person_id FROM person_block b
    JOIN source_person sp ON sp.rec_id = b.rec_id
    WHERE k NOT IN (0, -1) AND b.block_key = k AND NOT sp.deleted
      AND sp.person_id IS NOT NULL
    GROUP BY sp.person_id ORDER BY count(*) DESC, sp.person_id LIMIT 1
$$;

CREATE OR REPLACE VIEW grid_roster AS
SELECT m.*, person_of_id_key(m.id_key) AS person_id FROM grid_staff_member m;

-- Each department's household record and the golden household it belongs
-- to: the household of its head (公安's 户 and 计生's 家庭档案 of one family
-- have different numbers but one head), H + the head's person number; a
-- record whose head is no known resident stands alone.
CREATE VIEW household_record AS
SELECT s.department, s.source_key,
       s.row ->> 'household_number' AS household_number,
       s.row ->> 'head_name' AS head_name,
       s.row ->> 'grid_code' AS grid_code,
       (s.row ->> 'member_count')::int AS member_count,
       h.person_id AS head_person_id,
       coalesce('H' || substr(h.person_id, 2),
                'H:' || s.department || ':' || s.source_key) AS household_id
FROM source_row s
LEFT JOIN LATERAL (SELECT person_of_id_key(s.id_key) AS person_id) h ON true
WHERE s.entity = 'household' AND NOT s.deleted;

-- Each department's member row, as a golden person (by the person record
-- it names, else by its ID) in a golden household.
CREATE VIEW household_membership AS
SELECT m.department, m.source_key, m.row ->> 'name' AS name,
       m.row ->> 'relation' AS relation,
       coalesce(sp.person_id, person_of_id_key(m.id_key)) AS person_id,
       r.household_id, r.source_key AS household_key
FROM source_row m
LEFT JOIN source_person sp ON sp.department = m.department
     AND sp.source_key = m.row ->> 'person_key' AND NOT sp.deleted
LEFT JOIN household_record r ON r.department = m.department
     AND r.source_key = m.row ->> 'household_key'
WHERE m.entity = 'household_member' AND NOT m.deleted;
