-- Catalog search's shared state, so every server instance (each with its own
-- index) answers alike. Timestamps are BIGINT microseconds since the Unix
-- epoch, UTC, as on SQLite.

-- Operator settings, one row each (`synonyms`, `fx_table`): the value as
-- JSON text (rates as decimal strings), and a version that grows by one with
-- every save (absent row = version 0, never saved).
CREATE TABLE search_settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Views counted per listing. Only listings have counters (the foreign key);
-- reading joins `listings` for the status.
-- COLLATE "C": ties order by id bytewise, as on SQLite.
CREATE TABLE listing_popularity (
    listing_id TEXT COLLATE "C" PRIMARY KEY NOT NULL REFERENCES listings (id),
    views BIGINT NOT NULL
);
CREATE INDEX listing_popularity_views ON listing_popularity (views DESC, listing_id);
