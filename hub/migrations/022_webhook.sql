-- Webhook delivery (hub/webhook/, docs/api.md "Webhooks"): per subscriber
-- topic partition, the next offset to POST. The Kafka offsets live here and
-- not in a consumer group, so that "delivered" and "recorded" are one
-- statement in the hub's own database and an operator reads the state
-- with SQL. A row is advanced only after the receiver answered 2xx.
CREATE TABLE webhook_offset (
    subscriber        text        NOT NULL,
    topic             text        NOT NULL,
    partition         int         NOT NULL CHECK (partition >= 0),
    next_offset       bigint      NOT NULL CHECK (next_offset >= 0),
    delivered         bigint      NOT NULL DEFAULT 0, -- messages, all time
    attempts          int         NOT NULL DEFAULT 0, -- failed in a row
    last_status       int,        -- HTTP status of the last attempt, 0: none
    last_error        text,       -- why the last attempt failed, NULL once OK
    last_attempt_at   timestamptz,
    last_delivered_at timestamptz,
    PRIMARY KEY (subscriber, topic, partition)
);
