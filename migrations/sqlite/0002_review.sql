-- Rules decisions, department review tracks, firm records and grade history.

CREATE TABLE decisions (
    application_id  TEXT NOT NULL REFERENCES applications (id),
    round           BIGINT NOT NULL,
    outcome         TEXT NOT NULL,
    ruleset_id      TEXT NOT NULL,
    ruleset_version TEXT NOT NULL,
    ruleset_sha256  TEXT NOT NULL,
    reasons         TEXT NOT NULL,
    trace           TEXT NOT NULL,
    facts           TEXT NOT NULL,
    decided_at      BIGINT NOT NULL,
    PRIMARY KEY (application_id, round)
);
CREATE INDEX decisions_by_time ON decisions (decided_at);

CREATE TABLE review_tracks (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications (id),
    round          BIGINT NOT NULL,
    department     TEXT NOT NULL,
    district       TEXT NOT NULL,
    status         TEXT NOT NULL,
    reasons        TEXT NOT NULL,
    decided_by     TEXT,
    decided_at     BIGINT,
    comment        TEXT,
    created_at     BIGINT NOT NULL,
    UNIQUE (application_id, round, department)
);
CREATE INDEX review_tracks_queue ON review_tracks (district, department, status, created_at);

CREATE TABLE firm_records (
    id          TEXT PRIMARY KEY,
    firm_id     TEXT NOT NULL REFERENCES firms (id),
    kind        TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    note        TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX firm_records_by_firm ON firm_records (firm_id, occurred_at);

CREATE TABLE grade_changes (
    id         TEXT PRIMARY KEY,
    firm_id    TEXT NOT NULL REFERENCES firms (id),
    from_grade TEXT NOT NULL,
    to_grade   TEXT NOT NULL,
    points     BIGINT NOT NULL,
    cause      TEXT NOT NULL,
    at         BIGINT NOT NULL
);
CREATE INDEX grade_changes_by_firm ON grade_changes (firm_id, at);
