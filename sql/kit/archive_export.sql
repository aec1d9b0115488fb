-- Archived months exported to cold storage by `partkit archive export`: one row per archived
-- table, rewritten when the table is exported again. A row is what allows the kit to drop an
-- archived month (after export, or by purge); a month without one is never dropped.
CREATE TABLE archive_export (
    id             bigserial   PRIMARY KEY,
    parent_schema  text        NOT NULL,
    parent_table   text        NOT NULL,
    -- Where the month lives since retention moved it (the parent's archive schema).
    archive_schema text        NOT NULL,
    archived_table text        NOT NULL,
    month          text        NOT NULL CHECK (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    -- Rows in the file, which were the rows of the table when it was exported.
    rows           bigint      NOT NULL CHECK (rows >= 0),
    -- The .csv.gz as the exporting machine named it.
    file           text        NOT NULL,
    sha256         text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    exported_at    timestamptz NOT NULL DEFAULT now(),
    -- Set when the kit dropped the archived table; the file is then the only copy.
    dropped_at     timestamptz,
    UNIQUE (archive_schema, archived_table)
);
