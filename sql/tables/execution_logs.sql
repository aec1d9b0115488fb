-- Semibot agent execution logs; partkit fills in the quoted, schema-qualified table name.
CREATE TABLE {{table}} (
    id            uuid        NOT NULL DEFAULT gen_random_uuid(),
    execution_id  uuid        NOT NULL,
    agent_id      uuid,
    level         varchar(10) NOT NULL DEFAULT 'info',
    message       text        NOT NULL,
    metadata      jsonb       NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX ON {{table}} (execution_id, created_at);
-- The time index: serves time ranges and newest-N pages in every month (btree, chosen over BRIN by measurement: docs/benchmarks.md).
CREATE INDEX ON {{table}} (created_at);
