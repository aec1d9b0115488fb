-- Purge (opt-in): archived months whose month ended more than purge_after ago are dropped by
-- run_maintenance, but only once they were exported (archive_export). NULL keeps them.
ALTER TABLE managed_table
    ADD COLUMN purge_after interval CHECK (purge_after > interval '0');

-- The events purge writes.
ALTER TABLE maintenance_event DROP CONSTRAINT maintenance_event_action_check;
ALTER TABLE maintenance_event ADD CONSTRAINT maintenance_event_action_check
    CHECK (action IN ('created', 'moved', 'detached', 'failed', 'purged', 'purge-skipped'));
