-- Money and decimals live in `doc` (JSON text, string amounts); timestamps are
-- BIGINT microseconds since the Unix epoch, UTC, as on SQLite.
-- COLLATE "C": ids and page cursors compare bytewise, as on SQLite.
CREATE TABLE listings (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    vendor TEXT NOT NULL,
    vendor_sku TEXT NOT NULL,
    category TEXT NOT NULL,
    service TEXT NOT NULL,
    region TEXT NOT NULL,
    status TEXT NOT NULL,
    name_en TEXT,
    name_zh TEXT,
    content_hash TEXT NOT NULL,
    price_hash TEXT NOT NULL,
    doc TEXT NOT NULL,
    fetched_at BIGINT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX listings_vendor_id ON listings (vendor, id);
CREATE INDEX listings_category_id ON listings (category, id);
CREATE INDEX listings_region_id ON listings (region, id);
CREATE INDEX listings_vendor_status_seen ON listings (vendor, status, last_seen_at);

CREATE TABLE listing_price_history (
    id BIGSERIAL PRIMARY KEY NOT NULL,
    listing_id TEXT NOT NULL REFERENCES listings (id),
    recorded_at BIGINT NOT NULL,
    prices TEXT NOT NULL
);
CREATE INDEX listing_price_history_listing ON listing_price_history (listing_id, id);

CREATE TABLE listing_changes (
    seq BIGSERIAL PRIMARY KEY NOT NULL,
    listing_id TEXT NOT NULL REFERENCES listings (id),
    vendor TEXT NOT NULL,
    kind TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
);
