-- Marketplace money: margin rules, orders with their price snapshot,
-- customers' own resources, service-fee contracts and account standing.
--
-- Each record is kept whole as JSON (`body`, the core type's serde form:
-- money as decimal strings, never summed in SQL), beside the columns its
-- keys and lookups need. Orders change only through a version check.

CREATE TABLE market_margin_rules (
    issuer_id TEXT COLLATE "C" NOT NULL REFERENCES billing_issuers (id),
    id TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (issuer_id, id)
);

CREATE TABLE market_orders (
    issuer_id TEXT COLLATE "C" NOT NULL REFERENCES billing_issuers (id),
    id TEXT COLLATE "C" NOT NULL,
    customer TEXT COLLATE "C" NOT NULL,
    idempotency_key TEXT COLLATE "C" NOT NULL,
    meter TEXT COLLATE "C" NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (issuer_id, id),
    UNIQUE (issuer_id, customer, idempotency_key),
    UNIQUE (issuer_id, meter)
);
CREATE INDEX market_orders_customer ON market_orders (issuer_id, customer, created_at);

CREATE TABLE market_own_resources (
    issuer_id TEXT COLLATE "C" NOT NULL REFERENCES billing_issuers (id),
    id TEXT COLLATE "C" NOT NULL,
    customer TEXT COLLATE "C" NOT NULL,
    vendor TEXT COLLATE "C" NOT NULL,
    vendor_resource_id TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (issuer_id, id),
    UNIQUE (issuer_id, customer, vendor, vendor_resource_id)
);

CREATE TABLE market_contracts (
    issuer_id TEXT COLLATE "C" NOT NULL REFERENCES billing_issuers (id),
    id TEXT COLLATE "C" NOT NULL,
    customer TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (issuer_id, id)
);
CREATE INDEX market_contracts_customer ON market_contracts (issuer_id, customer, created_at);

CREATE TABLE market_standing (
    issuer_id TEXT COLLATE "C" NOT NULL REFERENCES billing_issuers (id),
    customer TEXT COLLATE "C" NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (issuer_id, customer)
);
