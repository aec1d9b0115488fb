-- Semibot message history; partkit fills in the quoted, schema-qualified table name.
CREATE TABLE {{table}} (
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    session_id  uuid        NOT NULL,
    role        varchar(20) NOT NULL,
    content     text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX ON {{table}} (session_id, created_at);
-- The time index: serves time ranges and newest-N pages in every month (btree, chosen over BRIN by measurement: docs/benchmarks.md).
CREATE INDEX ON {{table}} (created_at);
