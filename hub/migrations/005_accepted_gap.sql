-- Gaps an operator accepted with `gridhub resync department`: the hub's
-- consumer starts a partition no lower than `floor` (the end of its log
-- then, where the department's new snapshot begins) instead of stopping at
-- the messages it lost; the new snapshot brings the hub back to exact.
CREATE TABLE accepted_gap (
    topic       text    NOT NULL,
    part        integer NOT NULL,
    floor       bigint  NOT NULL,
    skipped     bigint  NOT NULL,
    accepted_at timestamptz NOT NULL DEFAULT now(),
    accepted_by text    NOT NULL DEFAULT current_user,
    PRIMARY KEY (topic, part)
);
