-- partkit bench, citus section: Semibot's messages, partitioned by month, with session_id in the
-- primary key (a distributed table's unique keys must hold its distribution column). The same DDL
-- makes the local table and the one then distributed by session_id. {{table}} is the quoted,
-- schema-qualified name.
CREATE TABLE {{table}} (
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    session_id  uuid        NOT NULL,
    role        varchar(20) NOT NULL,
    content     text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, created_at, session_id)
) PARTITION BY RANGE (created_at);
CREATE INDEX ON {{table}} (session_id, created_at);
CREATE INDEX ON {{table}} (created_at);
