-- Hub state, version 2: identity resolution and stewardship.
--
-- Persons are no longer one per match key: every source record belongs to
-- the cluster (person) that identity resolution gives it. Matching works on
-- normalized copies of the identifying fields kept next to the raw ones,
-- candidates come from blocking keys, links found are kept as edges so a
-- cluster is never re-derived from scratch, and stewards' decisions are
-- constraints that automatic resolution honours.

CREATE SEQUENCE source_rec_seq;

ALTER TABLE source_person
    ADD COLUMN rec_id     bigint NOT NULL DEFAULT nextval('source_rec_seq'),
    ADD COLUMN person_id  text,
    ADD COLUMN id_clean   text,      -- gh_idnum output (also for a bad check)
    ADD COLUMN id_code    smallint,  -- gh_idnum_status_t
    ADD COLUMN n_name     text,      -- gh_norm_name
    ADD COLUMN n_pinyin   text,      -- gh_norm_pinyin
    ADD COLUMN n_phone    text,      -- gh_norm_phone
    ADD COLUMN n_address  text,      -- gh_norm_address
    ADD COLUMN sex_code   smallint;  -- 0 unknown, 1 male, 2 female
ALTER SEQUENCE source_rec_seq OWNED BY source_person.rec_id;
CREATE UNIQUE INDEX source_person_rec ON source_person (rec_id);
CREATE INDEX source_person_person ON source_person (person_id)
    WHERE person_id IS NOT NULL;

-- Version 1 persons were one per match key: keep their ids.
UPDATE source_person sp SET person_id = p.person_id
    FROM person p WHERE p.match_key = sp.match_key AND NOT sp.deleted;
DROP INDEX source_person_match;
ALTER TABLE source_person DROP COLUMN match_key;
ALTER TABLE person DROP COLUMN match_key;

-- A retired person (absorbed by a merge, or left without records) keeps
-- its row so that its id is never handed out again.
ALTER TABLE person
    ADD COLUMN merged_into  text,
    ADD COLUMN provenance   jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN absorbed_ids jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN created_at   timestamptz NOT NULL DEFAULT now();

-- Blocking keys of live source records (64-bit hashes, gh_match_block_keys).
CREATE TABLE person_block (
    block_key bigint NOT NULL,
    rec_id    bigint NOT NULL,
    PRIMARY KEY (block_key, rec_id)
);
CREATE INDEX person_block_rec ON person_block (rec_id);

-- Scored pairs worth keeping: links (which hold clusters together) and
-- review / ID-conflict pairs (which feed the steward queue). a < b.
-- kind: gh_match_decision_t (1 review, 2 link, 3 link-id, 4 id-conflict).
CREATE TABLE match_edge (
    a        bigint   NOT NULL,
    b        bigint   NOT NULL,
    kind     smallint NOT NULL,
    score    real     NOT NULL,
    evidence jsonb,
    PRIMARY KEY (a, b)
);
CREATE INDEX match_edge_b ON match_edge (b);

-- Every steward action, append-only: who, when, what, why.
CREATE TABLE steward_decision (
    decision_id bigserial   PRIMARY KEY,
    action      text        NOT NULL,  -- merge|split|keep-apart|choose
    decided_by  text        NOT NULL,
    decided_at  timestamptz NOT NULL DEFAULT now(),
    reason      text        NOT NULL,
    item_id     bigint,
    details     jsonb       NOT NULL
);

-- Record-level constraints from decisions. kind 'merge': a forced link
-- (never split automatically); kind 'apart': the two records' clusters
-- are never joined automatically.
CREATE TABLE steward_constraint (
    a           bigint NOT NULL,
    b           bigint NOT NULL,
    kind        text   NOT NULL CHECK (kind IN ('merge', 'apart')),
    decision_id bigint NOT NULL REFERENCES steward_decision,
    PRIMARY KEY (a, b, kind)
);
CREATE INDEX steward_constraint_b ON steward_constraint (b);

-- A steward's choice of a golden value; wins over survivorship.
CREATE TABLE person_override (
    person_id   text   NOT NULL,
    field       text   NOT NULL,
    value       text,
    decision_id bigint NOT NULL REFERENCES steward_decision,
    chosen_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (person_id, field)
);

-- The review queue. kind: possible_duplicate (a pair scored between the
-- thresholds, in two persons), shared_id (one valid ID on records that
-- otherwise disagree), attribute_conflict (departments disagree on a
-- golden field of one person). An open item that stops being true (the
-- pair got linked, the conflict went away) becomes 'obsolete'.
CREATE TABLE steward_item (
    item_id    bigserial   PRIMARY KEY,
    kind       text        NOT NULL,
    status     text        NOT NULL DEFAULT 'open'
               CHECK (status IN ('open', 'resolved', 'obsolete')),
    person_a   text        NOT NULL,
    person_b   text,
    field      text,
    rec_a      bigint,
    rec_b      bigint,
    score      real,
    evidence   jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    decision_id bigint     REFERENCES steward_decision
);
CREATE UNIQUE INDEX steward_item_open ON steward_item
    (kind, person_a, coalesce(person_b, ''), coalesce(field, ''))
    WHERE status = 'open';
CREATE INDEX steward_item_status ON steward_item (status, kind);
