-- partkit bench, migrate section: the table to migrate, as Semibot has it (a random uuid primary
-- key, so primary-key order is random heap order). {{table}} is the quoted, schema-qualified name.
CREATE TABLE {{table}} (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id uuid NOT NULL,
    role text NOT NULL,
    content text NOT NULL,
    created_at timestamptz NOT NULL
);
