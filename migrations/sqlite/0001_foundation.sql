-- Foundation schema: accounts, sessions, applications, materials, pre-review rounds, jobs,
-- idempotency keys and the hash-chained audit log. Times are Unix milliseconds (UTC);
-- structured documents are JSON text so the SQLite and Postgres schemas stay the same shape.

CREATE TABLE firms (
    id             TEXT PRIMARY KEY,
    credit_code    TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    contact_name   TEXT NOT NULL,
    contact_phone  TEXT NOT NULL,
    grade          TEXT NOT NULL DEFAULT 'green',
    created_at     BIGINT NOT NULL
);

CREATE TABLE staff (
    id             TEXT PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL,
    department     TEXT,
    district       TEXT,
    created_at     BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash     TEXT PRIMARY KEY,
    principal_kind TEXT NOT NULL,
    principal_id   TEXT NOT NULL,
    expires_at     BIGINT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE applications (
    id                     TEXT PRIMARY KEY,
    firm_id                TEXT NOT NULL REFERENCES firms (id),
    district               TEXT NOT NULL,
    status                 TEXT NOT NULL,
    form                   TEXT NOT NULL,
    construction_permit_no TEXT NOT NULL,
    start_date             TEXT NOT NULL,
    end_date               TEXT NOT NULL,
    round                  BIGINT NOT NULL DEFAULT 0,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL
);
CREATE INDEX applications_by_firm ON applications (firm_id, created_at DESC, id DESC);
CREATE INDEX applications_by_district ON applications (district, created_at DESC, id DESC);
CREATE INDEX applications_by_site ON applications (construction_permit_no);

CREATE TABLE materials (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications (id),
    kind           TEXT NOT NULL,
    filename       TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    sha256         TEXT NOT NULL,
    size           BIGINT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX materials_by_application ON materials (application_id, created_at);

CREATE TABLE prereview_rounds (
    application_id  TEXT NOT NULL REFERENCES applications (id),
    round           BIGINT NOT NULL,
    state           TEXT NOT NULL,
    submitted_at    BIGINT NOT NULL,
    started_at      BIGINT,
    finished_at     BIGINT,
    outcome         TEXT,
    findings        TEXT,
    materials       TEXT NOT NULL,
    materials_done  BIGINT NOT NULL DEFAULT 0,
    materials_total BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (application_id, round)
);

CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    run_after    BIGINT NOT NULL,
    lease_until  BIGINT,
    locked_by    TEXT,
    last_error   TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX jobs_claimable ON jobs (state, run_after);

CREATE TABLE idempotency_keys (
    principal_id   TEXT NOT NULL,
    key            TEXT NOT NULL,
    application_id TEXT NOT NULL,
    response       TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (principal_id, key)
);

CREATE TABLE audit_log (
    seq          INTEGER PRIMARY KEY,
    at           BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    entity       TEXT NOT NULL,
    entity_id    TEXT NOT NULL,
    before_state TEXT,
    after_state  TEXT,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
CREATE INDEX audit_by_entity ON audit_log (entity, entity_id, seq);
