-- The golden persons as the person view carries them
-- (schemas/view_person.avsc), one JSON object per line: what
-- tests/tools/policy_oracle.py reads as --persons. Written from
-- docs/grid.md ("Person attributes", "Current grid"), not from the hub's
-- code: the current grid replaces the golden one, and when the residence's
-- building decided it, the registration naming the building is grid_code's
-- provenance (last).
SELECT row_to_json(p) FROM (
    SELECT p.person_id, p.active, p.id_number, p.name, p.sex, p.birth_date,
           p.phone, p.address,
           CASE WHEN a.person_id IS NULL THEN p.grid_code
                ELSE a.grid_code END AS grid_code,
           a.registration_type, a.valid_until AS registration_valid_until,
           coalesce(a.party_member, false) AS party_member,
           coalesce(a.volunteer, false) AS volunteer, a.staff_role,
           a.household_id, a.grid_basis, a.building_id, a.building_no,
           a.unit_no, a.room_no,
           coalesce(a.family_planning, '[]') AS family_planning, p.sources,
           CASE WHEN a.grid_basis = 'BUILDING' AND a.grid_source IS NOT NULL
           THEN coalesce((SELECT jsonb_agg(e) FROM
                              jsonb_array_elements(p.provenance) e
                          WHERE e ->> 'field' <> 'grid_code'), '[]')
                || jsonb_build_array(jsonb_build_object(
                       'field', 'grid_code',
                       'department', split_part(a.grid_source, ':', 1),
                       'source_key', substr(a.grid_source, length(
                           split_part(a.grid_source, ':', 1)) + 2),
                       'at', a.grid_at))
           ELSE p.provenance END AS provenance,
           p.absorbed_ids, p.version, p.updated_at
    FROM person p LEFT JOIN person_attr a USING (person_id)) p;
