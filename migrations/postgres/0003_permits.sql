-- Sealed permits. A row is created when the number is allocated (status 'pending') so a retried
-- sealing job reuses its number; it becomes 'valid' with its PDF, and may be 'revoked'.

CREATE TABLE permits (
    number         TEXT PRIMARY KEY,
    application_id TEXT NOT NULL UNIQUE REFERENCES applications (id),
    district       TEXT NOT NULL,
    year           BIGINT NOT NULL,
    seq            BIGINT NOT NULL,
    status         TEXT NOT NULL,
    pdf_sha256     TEXT,
    issued_at      BIGINT,
    revoked_at     BIGINT,
    revoke_reason  TEXT,
    created_at     BIGINT NOT NULL,
    UNIQUE (district, year, seq)
);
