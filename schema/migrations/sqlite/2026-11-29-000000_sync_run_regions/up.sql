-- The run report's regions (`RegionReport` as JSON): offers skipped in test
-- regions by code, and codes the geography table does not know.
ALTER TABLE sync_runs ADD COLUMN regions TEXT NOT NULL DEFAULT '{}';
