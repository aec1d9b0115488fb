-- Semibot API key usage log; partkit fills in the quoted, schema-qualified table name.
CREATE TABLE {{table}} (
    id           uuid         NOT NULL DEFAULT gen_random_uuid(),
    api_key_id   uuid         NOT NULL,
    endpoint     varchar(255) NOT NULL,
    method       varchar(10)  NOT NULL,
    status_code  smallint     NOT NULL,
    latency_ms   integer,
    ip_address   inet,
    created_at   timestamptz  NOT NULL DEFAULT now(),
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX ON {{table}} (api_key_id, created_at);
-- The time index: serves time ranges and newest-N pages in every month (btree, chosen over BRIN by measurement: docs/benchmarks.md).
CREATE INDEX ON {{table}} (created_at);
