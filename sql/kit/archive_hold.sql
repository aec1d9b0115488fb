-- Per-month holds: `partkit archive restore --attach --keep` puts a month back into its table
-- even though it is past retention, and records a hold here so that maintenance leaves it
-- attached instead of archiving it again. One row per (table, month); deleting the row lets the
-- next maintenance run archive the month as usual.
CREATE TABLE archive_hold (
    parent_schema text        NOT NULL,
    parent_table  text        NOT NULL,
    -- The month as the table's zone names it.
    month         text        NOT NULL CHECK (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    reason        text,
    held_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (parent_schema, parent_table, month)
);
