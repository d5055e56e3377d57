-- A person record whose ID number changed is noted for the views.
--
-- The persons' attributes (registration, party membership, volunteering,
-- staff roles, family planning) and the households they head are found
-- through the ID keys of their records (source_person.id_key), and the
-- views were told of a change only by the rows of those other entities
-- (their trigger notes 'idkey') or by a golden write that changed a
-- person's grid, activity or records (person_noted notes 'person'). A
-- corrected ID number, the commonest repair a register makes, does neither
-- when the record stays with its person: the person was published with the
-- new number and kept the attributes of the old one until something else
-- noted it. Now the record's person is noted 'person' (its attributes
-- derived again and the households it heads and is named after noted,
-- migration 029) and both ID keys 'idkey' (whoever else holds either).
-- Row by row, only when the key changed: the column list keeps the
-- resolver's assignments (UPDATE ... SET person_id) and inserts out of it.
CREATE FUNCTION source_person_id_key_noted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO view_dirty (kind, key)
    SELECT 'idkey', k::text FROM (VALUES (OLD.id_key), (NEW.id_key)) v(k)
    WHERE k IS NOT NULL AND k NOT IN (0, -1)
    UNION SELECT 'person', NEW.person_id WHERE NEW.person_id IS NOT NULL
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER source_person_id_key_noted AFTER UPDATE OF id_key
    ON source_person FOR EACH ROW
    WHEN (OLD.id_key IS DISTINCT FROM NEW.id_key)
    EXECUTE FUNCTION source_person_id_key_noted();
