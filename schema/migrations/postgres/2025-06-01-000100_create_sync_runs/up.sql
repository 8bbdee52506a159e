-- Report counts are BIGINT; `rejections` is the kept rejections as JSON text.
CREATE TABLE sync_runs (
    id BIGSERIAL PRIMARY KEY NOT NULL,
    vendor TEXT NOT NULL,
    trigger_name TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    pages BIGINT NOT NULL,
    new_count BIGINT NOT NULL,
    changed_count BIGINT NOT NULL,
    unchanged_count BIGINT NOT NULL,
    retired_count BIGINT NOT NULL,
    rejected BIGINT NOT NULL,
    rejections TEXT NOT NULL,
    resume_token TEXT,
    error TEXT
);
CREATE INDEX sync_runs_started ON sync_runs (started_at, id);
CREATE INDEX sync_runs_vendor_started ON sync_runs (vendor, started_at, id);
