-- API tokens (hub/api/token.h, docs/api.md): the SHA-256 of each token's
-- secret, never the secret, with what it is bound to.
CREATE TABLE api_token (
    id           text PRIMARY KEY,            -- 8 hex characters, public
    secret_sha256 bytea NOT NULL,
    subscriber   text NOT NULL,               -- a subscriber of the policy
    role         text NOT NULL CHECK (role IN ('subscriber', 'grid_worker',
                     'steward', 'security_officer', 'leadership')),
    grids        text[] NOT NULL DEFAULT '{}',
    note         text,
    created_by   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    revoked_reason text,
    last_used_at timestamptz,
    CHECK ((role = 'grid_worker') = (cardinality(grids) > 0))
);
