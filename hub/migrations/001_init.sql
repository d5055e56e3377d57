-- Hub state, version 1: source records, golden persons, truncate
-- watermarks, and the transactional outbox of subscriber view changes.

-- The latest state of every department row the hub has seen, one per
-- (department, entity, source_key). `pos_lsn, pos_seq` is the position of
-- the event that wrote it; an event at or before it is a replay and is
-- ignored. Deleted rows stay (deleted = true) so that a replayed older
-- insert cannot bring them back.
CREATE TABLE source_person (
    department    text        NOT NULL,
    source_key    text        NOT NULL,
    source_table  text        NOT NULL,
    pos_lsn       bigint      NOT NULL,
    pos_seq       bigint      NOT NULL,
    deleted       boolean     NOT NULL DEFAULT false,
    id_number_raw text,
    id_number     text,       -- normalized 18-character ID, NULL if invalid
    id_status     text,       -- gh_idnum status of the raw value
    name          text,
    sex           text,
    birth_date    date,
    phone         text,
    address       text,
    grid_code     text,
    household_key text,
    remark        text,
    source_updated_at timestamptz,
    match_key     text        NOT NULL,
    applied_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (department, source_key)
);
CREATE INDEX source_person_match ON source_person (match_key) WHERE NOT deleted;
CREATE INDEX source_person_table ON source_person (department, source_table);

-- A TRUNCATE at a position: events of that table at or before it are stale.
CREATE TABLE table_watermark (
    department   text   NOT NULL,
    source_table text   NOT NULL,
    pos_lsn      bigint NOT NULL,
    pos_seq      bigint NOT NULL,
    PRIMARY KEY (department, source_table)
);

CREATE SEQUENCE person_id_seq;

-- The golden resident. person_id is stable: allocated once per match key
-- and never reused.
CREATE TABLE person (
    person_id   text        PRIMARY KEY,
    match_key   text        NOT NULL UNIQUE,
    active      boolean     NOT NULL,
    id_number   text,
    name        text,
    sex         text,
    birth_date  date,
    phone       text,
    address     text,
    grid_code   text,
    sources     jsonb       NOT NULL DEFAULT '[]',
    version     bigint      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Transactional outbox: written in the same transaction as the state it
-- describes, published by the relay, deleted once Kafka acknowledged it.
CREATE TABLE outbox (
    id         bigserial   PRIMARY KEY,
    topic      text        NOT NULL,
    msg_key    text        NOT NULL,
    payload    bytea,      -- NULL: tombstone
    person_id  text,
    version    bigint,
    created_at timestamptz NOT NULL DEFAULT now()
);
