-- The deployment platform: registered clusters and the tenants granted
-- them, projects placed on a cluster, applications, their immutable
-- releases, builds, and the meter's watermark per application.
--
-- Specs, settings, build sources and scale overrides are the JSON
-- `shiyun-deploy` writes, kept as text and never interpreted here.
-- Timestamps are BIGINT microseconds since the Unix epoch, UTC. Text keys
-- compare bytewise (BINARY), as on PostgreSQL where they are COLLATE "C".
-- Tenants, projects and accounts are the user centre's ids, checked by the
-- service before they get here (no foreign keys into the user centre's
-- tables).

CREATE TABLE deploy_clusters (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    api_url TEXT NOT NULL,
    credential_kind TEXT NOT NULL,
    sealed_credential TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE deploy_cluster_grants (
    cluster TEXT NOT NULL REFERENCES deploy_clusters (id),
    tenant TEXT NOT NULL,
    PRIMARY KEY (cluster, tenant)
);

-- A project stays on its first cluster; two projects never share a
-- namespace of one cluster.
CREATE TABLE deploy_placements (
    project TEXT PRIMARY KEY NOT NULL,
    tenant TEXT NOT NULL,
    cluster TEXT NOT NULL REFERENCES deploy_clusters (id),
    namespace TEXT NOT NULL,
    settings TEXT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (cluster, namespace)
);

-- `state` is `running`, `stopped` or `deleted`; a deleted application
-- keeps its row (and releases), and its name may be taken again.
CREATE TABLE deploy_apps (
    id TEXT PRIMARY KEY NOT NULL,
    tenant TEXT NOT NULL,
    project TEXT NOT NULL,
    name TEXT NOT NULL,
    created_by TEXT NOT NULL,
    state TEXT NOT NULL,
    current_release BIGINT,
    scale_override TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX deploy_apps_live_name ON deploy_apps (project, name)
    WHERE state <> 'deleted';
CREATE INDEX deploy_apps_tenant ON deploy_apps (tenant, project, name);
CREATE INDEX deploy_apps_state ON deploy_apps (state);

CREATE TABLE deploy_releases (
    app TEXT NOT NULL REFERENCES deploy_apps (id),
    version BIGINT NOT NULL,
    spec TEXT NOT NULL,
    rollback_of BIGINT,
    description TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (app, version)
);

CREATE TABLE deploy_builds (
    id TEXT PRIMARY KEY NOT NULL,
    app TEXT NOT NULL REFERENCES deploy_apps (id),
    source TEXT NOT NULL,
    image TEXT NOT NULL,
    status TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX deploy_builds_app ON deploy_builds (app, created_at);

-- The minute up to which an application's usage was reported (exclusive).
CREATE TABLE deploy_meter_marks (
    app TEXT PRIMARY KEY NOT NULL REFERENCES deploy_apps (id),
    mark BIGINT NOT NULL
);
