-- Per-subscriber feeds under the access policy (docs/policy.md).

-- What each subscriber last received of each record: its pseudonymous
-- key and a digest of the bytes (NULL: a tombstone). A record whose new
-- view has the same digest is not sent again; a record that left the
-- view gets a tombstone under the key the subscriber knows.
CREATE TABLE feed_state (
    subscriber text  NOT NULL,
    entity     text  NOT NULL,
    record_id  text  NOT NULL,
    msg_key    text  NOT NULL,
    digest     bytea,
    PRIMARY KEY (entity, record_id, subscriber)
);
-- No index by subscriber: every batch writes a row per subscriber and
-- changed record, and only retiring a subscriber (rare) reads by it.

-- The plan each subscriber's view is materialized with (a digest of its
-- rules, grants, key and schema). swept = false: a sweep is due or was cut
-- short; force = true: every record is to be sent again (resync).
CREATE TABLE feed_plan (
    subscriber     text        NOT NULL,
    entity         text        NOT NULL,
    digest         text        NOT NULL,
    policy_version text        NOT NULL,
    swept          boolean     NOT NULL,
    force          boolean     NOT NULL DEFAULT false,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subscriber, entity)
);

-- Every schema a subscriber record was written with, so the relay can
-- publish it to the schemas topic before the record: the writer may be
-- another process (a steward command) whose schema the relay never saw.
CREATE TABLE view_schema (
    fingerprint text        PRIMARY KEY, -- CRC-64-AVRO, 16 hex digits
    name        text        NOT NULL,
    schema      text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
