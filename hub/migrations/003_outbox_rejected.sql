-- Outbox rows Kafka cannot take (a view larger than message.max.bytes):
-- set aside here with the reason instead of blocking every row behind them.
-- An operator raises the limit (or fixes the person that grew too large)
-- and moves them back with
--   INSERT INTO outbox (topic, msg_key, payload, person_id, version)
--     SELECT topic, msg_key, payload, person_id, version
--     FROM outbox_rejected WHERE ...;
CREATE TABLE outbox_rejected (
    id          bigint      PRIMARY KEY, -- the outbox id it had
    topic       text        NOT NULL,
    msg_key     text        NOT NULL,
    payload     bytea,
    person_id   text,
    version     bigint,
    created_at  timestamptz NOT NULL,
    rejected_at timestamptz NOT NULL DEFAULT now(),
    reason      text        NOT NULL
);
