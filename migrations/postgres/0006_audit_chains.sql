-- One hash chain per audited thing (entity, entity_id) instead of one chain for the whole
-- service: two cases' changes no longer wait for each other to append their audit entries.
-- Entries written before this migration keep chain_pos NULL and stay one chain in seq order,
-- verified as before; audit_legacy_head remembers its end so a cut-off tail is noticed.
ALTER TABLE audit_log ADD COLUMN chain_pos BIGINT;
CREATE INDEX audit_by_chain ON audit_log (entity, entity_id, chain_pos);

-- The end of each chain, row-locked while an entry is appended to it. checkpointed_pos is how
-- far the last checkpoint has recorded it.
CREATE TABLE audit_heads (
    entity          TEXT NOT NULL,
    entity_id       TEXT NOT NULL,
    last_pos        BIGINT NOT NULL,
    last_hash       TEXT NOT NULL,
    checkpointed_pos BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (entity, entity_id)
);

-- Periodic checkpoints: the heads that moved since the previous checkpoint, hashed together
-- with that checkpoint's hash. Deleting a whole chain, or rewriting one together with its head,
-- no longer matches a checkpoint taken before.
CREATE TABLE audit_checkpoints (
    id        BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    heads     TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);

CREATE TABLE audit_legacy_head (
    last_seq  BIGINT NOT NULL,
    last_hash TEXT NOT NULL
);
INSERT INTO audit_legacy_head (last_seq, last_hash)
    SELECT seq, hash FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log);

-- Entry numbers from a sequence: appends on different chains need no common lock. Numbers are
-- unique and increasing but may have gaps (a rolled-back transaction uses one up); gaps within
-- a chain are what verification looks for, by chain_pos.
CREATE SEQUENCE audit_seq;
SELECT setval('audit_seq', COALESCE((SELECT MAX(seq) FROM audit_log), 0) + 1, false);
