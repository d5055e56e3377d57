-- The golden person of an ID key read from the records' own key.
--
-- persons_of_id_keys (016) walked person_block: an index probe per key
-- for the records holding it, then a heap fetch of each record for its
-- person. Every view refresh calls it (a person's linked rows, a
-- household's head, a grid's staff), 649 times over a city load at
-- --scale 0.01, 22 s. A record's id_key (018) is the same keyed id17
-- blocking key person_block holds for it (gh_id_key normalizes the number
-- as the resolver does, and a record's keys are replaced whenever it
-- changes), so the index below answers a key with the persons in it
-- without touching the heap, once vacuumed.
--
-- Records applied before 018 have no id_key (NULL) until they change:
-- while any are left, their keys are still found through person_block.
-- The partial index makes "are any left" one probe of an empty index;
-- the keys are joined, not matched with = ANY, so that a plan starting
-- from the records (statistics not yet showing them) costs a hash, not a
-- comparison with every key per record.
-- Key 0 (no usable ID) and -1 (not known yet) name no one, as they are
-- never blocking keys.
CREATE INDEX source_person_id_key ON source_person (id_key)
    INCLUDE (person_id) WHERE NOT deleted AND person_id IS NOT NULL;
CREATE INDEX source_person_no_id_key ON source_person (rec_id)
    WHERE id_key IS NULL;

CREATE OR REPLACE FUNCTION persons_of_id_keys(keys bigint[])
RETURNS TABLE (k bigint, person_id text) LANGUAGE sql STABLE AS $$
    WITH recs AS (
        SELECT sp.id_key AS k, sp.person_id
        FROM source_person sp
        WHERE sp.id_key = ANY (keys) AND NOT sp.deleted
          AND sp.person_id IS NOT NULL
        UNION ALL
        SELECT b.block_key, sp.person_id
        FROM (SELECT DISTINCT unnest(keys) AS k) u
        JOIN person_block b ON b.block_key = u.k
        JOIN source_person sp ON sp.rec_id = b.rec_id
        WHERE EXISTS (SELECT 1 FROM source_person x WHERE x.id_key IS NULL)
          AND sp.id_key IS NULL AND NOT sp.deleted
          AND sp.person_id IS NOT NULL)
    SELECT DISTINCT ON (recs.k) recs.k, recs.person_id
    FROM recs WHERE recs.k NOT IN (0, -1)
    GROUP BY recs.k, recs.person_id
    ORDER BY recs.k, count(*) DESC, recs.person_id
$$;

-- Every person holding a record with one of the keys: those whose linked
-- rows may change when a row with the key does (the hub's ATTR_SQL, which
-- walked person_block for them).
CREATE FUNCTION persons_holding_id_keys(keys bigint[])
RETURNS TABLE (person_id text) LANGUAGE sql STABLE AS $$
    SELECT sp.person_id FROM source_person sp
    WHERE sp.id_key = ANY (keys) AND sp.id_key NOT IN (0, -1)
      AND NOT sp.deleted AND sp.person_id IS NOT NULL
    UNION
    SELECT sp.person_id
    FROM (SELECT DISTINCT unnest(keys) AS k) u
    JOIN person_block b ON b.block_key = u.k
    JOIN source_person sp ON sp.rec_id = b.rec_id
    WHERE EXISTS (SELECT 1 FROM source_person x WHERE x.id_key IS NULL)
      AND sp.id_key IS NULL AND NOT sp.deleted AND sp.person_id IS NOT NULL
$$;
