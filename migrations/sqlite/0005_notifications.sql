-- Every delivery attempt of an event to a webhook: the delivery log operators read.
CREATE TABLE webhook_deliveries (
    id          TEXT PRIMARY KEY,
    event_id    TEXT NOT NULL,
    event       TEXT NOT NULL,
    target      TEXT NOT NULL,
    attempt     BIGINT NOT NULL,
    http_status BIGINT,
    error       TEXT,
    delivered   BIGINT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (event_id, at);
