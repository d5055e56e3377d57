-- Encryption at rest (docs/encryption.md). Sealed values need no schema
-- change: they are text in the columns that held the clear ones. What the
-- database must remember is which index key the blind indexes it stores
-- (person_block) were made with, so that a hub started with another key,
-- or with none, refuses to run instead of silently finding no duplicates.
CREATE TABLE crypt_state (
    one        boolean     PRIMARY KEY DEFAULT true CHECK (one),
    index_key  text        NOT NULL, -- fingerprint, or 'none' (unkeyed)
    updated_at timestamptz NOT NULL DEFAULT now()
);
