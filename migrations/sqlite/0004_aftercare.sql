-- After-care: complaints followed by the 1/3/10/15-day rule, and double-random inspections.
-- Noise levels are stored in tenths of a dB(A) as integers, so both dialects read them alike;
-- flags are 0/1 integers for the same reason.

CREATE TABLE complaints (
    id                    TEXT PRIMARY KEY,
    reference             TEXT NOT NULL UNIQUE,
    district              TEXT NOT NULL,
    address               TEXT,
    permit_number         TEXT,
    occurred_at           BIGINT NOT NULL,
    description           TEXT NOT NULL,
    contact_name          TEXT,
    contact_phone         TEXT,
    priority              TEXT NOT NULL,
    matched_permits       TEXT NOT NULL,
    received_at           BIGINT NOT NULL,
    contact_by            BIGINT NOT NULL,
    inspect_by            BIGINT NOT NULL,
    check_by              BIGINT NOT NULL,
    conclude_by           BIGINT NOT NULL,
    contacted_at          BIGINT,
    contacted_by          TEXT,
    contact_note          TEXT,
    inspected_at          BIGINT,
    inspected_by          TEXT,
    noise_tenths_db       BIGINT,
    rectification_ordered BIGINT,
    inspect_note          TEXT,
    checked_at            BIGINT,
    checked_by            TEXT,
    rectified             BIGINT,
    check_note            TEXT,
    concluded_at          BIGINT,
    concluded_by          TEXT,
    outcome               TEXT,
    conclude_note         TEXT
);
CREATE INDEX complaints_by_district ON complaints (district, concluded_at, received_at);

CREATE TABLE inspection_draws (
    id         TEXT PRIMARY KEY,
    district   TEXT NOT NULL,
    seed       TEXT NOT NULL,
    requested  BIGINT NOT NULL,
    frame      TEXT NOT NULL,
    inspectors TEXT NOT NULL,
    drawn_by   TEXT NOT NULL,
    drawn_at   BIGINT NOT NULL
);

CREATE TABLE inspections (
    id              TEXT PRIMARY KEY,
    draw_id         TEXT NOT NULL REFERENCES inspection_draws (id),
    permit_number   TEXT NOT NULL REFERENCES permits (number),
    firm_id         TEXT NOT NULL REFERENCES firms (id),
    district        TEXT NOT NULL,
    inspector_id    TEXT NOT NULL REFERENCES staff (id),
    status          TEXT NOT NULL,
    noise_tenths_db BIGINT,
    measures_ok     BIGINT,
    comment         TEXT,
    result_at       BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX inspections_by_inspector ON inspections (inspector_id, created_at);
CREATE INDEX inspections_by_permit ON inspections (permit_number, created_at);
