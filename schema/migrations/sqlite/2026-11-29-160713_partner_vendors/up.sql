-- Partner clouds: which enterprise publishes listings under which vendor id
-- (`p-<slug>`). One per enterprise, and the id never changes (listing ids
-- are derived from it). `enterprise_id` is the user centre's enterprise id;
-- created_at is BIGINT microseconds since the Unix epoch, UTC.
CREATE TABLE partner_vendors (
    id TEXT PRIMARY KEY NOT NULL,
    enterprise_id TEXT NOT NULL UNIQUE,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
