-- One version, one record (docs/scaling.md, "The views thread").
--
-- A person is published from the views transaction that takes its notes,
-- with the attributes derived earlier in that transaction. A resolution
-- committing in between gives the person a new version, which the views
-- read with the attributes derived before it; the resolution's notes then
-- publish that version once more, with the new attributes. Subscribers
-- keep the highest version they have seen, so the same version with two
-- contents leaves one of them wrong. The version last published is kept
-- here: a person whose current version already went out gets a new one as
-- it is published again, and one a resolution just wrote goes out with the
-- resolution's version. Persons published before this migration count as
-- published at their version.
ALTER TABLE person ADD COLUMN published_version bigint NOT NULL DEFAULT 0;
UPDATE person SET published_version = version;
