-- A default partition being drained (drain_step): one row per table from the first step of its
-- drain until the last. The rows of each month are copied out of the default into a table that
-- becomes the month; a kill at any point leaves this row, and the next maintenance run goes on
-- from it (or, when the table changed meanwhile, drops the copies and starts again).
CREATE TABLE default_drain (
    parent_schema text        NOT NULL,
    parent_table  text        NOT NULL,
    -- The default partition being drained, by oid: it is renamed at the swap.
    old_default   oid         NOT NULL,
    -- Its name in the parent's schema, which the new default takes.
    default_name  text        NOT NULL,
    -- drain_<parent oid> in the kit's schema: a partitioned copy of the parent whose partitions
    -- are the months being made, months past the retention and the new default (drain_<oid>_rest).
    staging       text        NOT NULL,
    -- One object per month: start (wall time in the table's zone), child (the final name), staged
    -- (where it waits as a partition of staging, quoted: the final name in the parent's schema, or
    -- drain_<oid>_lateYYYYMM in the kit's schema), lower / upper (the bounds as written in FOR
    -- VALUES), late (past the retention: its rows join the archive instead).
    months        jsonb       NOT NULL,
    -- The copy reads the default by heap block, up to the size it had when the capture began;
    -- every change since is captured (drain_<oid>_capture) and replayed.
    next_block    bigint      NOT NULL DEFAULT 0,
    end_block     bigint      NOT NULL,
    batch_blocks  bigint      NOT NULL,
    batches       integer     NOT NULL DEFAULT 0,
    rows_copied   bigint      NOT NULL DEFAULT 0,
    keys_replayed bigint      NOT NULL DEFAULT 0,
    -- Replay rounds after the copy, before the swap is tried.
    rounds        integer     NOT NULL DEFAULT 0,
    phase         text        NOT NULL DEFAULT 'copying' CHECK (phase IN ('copying', 'swapped')),
    -- How long the swap held the parent's ACCESS EXCLUSIVE lock, measured inside it.
    locked_ms     numeric,
    started_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (parent_schema, parent_table)
);
