-- Semibot usage accounting; partkit fills in the quoted, schema-qualified table name.
CREATE TABLE {{table}} (
    id               uuid          NOT NULL DEFAULT gen_random_uuid(),
    organization_id  uuid          NOT NULL,
    user_id          uuid,
    resource_type    varchar(50)   NOT NULL,
    quantity         bigint        NOT NULL,
    cost_usd         numeric(14,6) NOT NULL DEFAULT 0,
    metadata         jsonb         NOT NULL DEFAULT '{}',
    created_at       timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX ON {{table}} (organization_id, created_at);
-- The time index: serves time ranges and newest-N pages in every month (btree, chosen over BRIN by measurement: docs/benchmarks.md).
CREATE INDEX ON {{table}} (created_at);
