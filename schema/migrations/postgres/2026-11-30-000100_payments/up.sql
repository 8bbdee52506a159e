-- Payments through a provider (Stripe, manual bank transfers): each billing
-- customer's id at the provider, payment attempts with their dunning state,
-- the provider's webhook events already processed, and refunds.
--
-- Amounts are BIGINT millionths as in billing; timestamps BIGINT
-- microseconds since the Unix epoch, UTC. Text keys are COLLATE "C" so they
-- order bytewise, as on SQLite.

CREATE TABLE payment_provider_customers (
    issuer_id TEXT COLLATE "C" NOT NULL,
    customer TEXT COLLATE "C" NOT NULL,
    provider TEXT COLLATE "C" NOT NULL,
    provider_customer TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (issuer_id, customer, provider),
    FOREIGN KEY (issuer_id, customer) REFERENCES billing_customers (issuer_id, external_id)
);

-- One attempt per key: `invoice:{id}` or `top_up:{customer}:{key}`.
-- `purpose` is `invoice` (with `invoice_id`) or `top_up`. `version` grows
-- with every change (compare-and-set).
CREATE TABLE payment_attempts (
    issuer_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    customer TEXT COLLATE "C" NOT NULL,
    purpose TEXT NOT NULL,
    invoice_id TEXT COLLATE "C",
    attempt_key TEXT COLLATE "C" NOT NULL,
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL,
    provider TEXT COLLATE "C" NOT NULL,
    provider_reference TEXT COLLATE "C" NOT NULL,
    status TEXT NOT NULL,
    retries BIGINT NOT NULL,
    payment_method TEXT COLLATE "C",
    first_failed_at BIGINT,
    next_retry_at BIGINT,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (issuer_id, id),
    UNIQUE (issuer_id, attempt_key),
    UNIQUE (issuer_id, provider, provider_reference),
    FOREIGN KEY (issuer_id, customer) REFERENCES billing_customers (issuer_id, external_id),
    FOREIGN KEY (issuer_id, invoice_id) REFERENCES invoices (issuer_id, id)
);

CREATE INDEX payment_attempts_due ON payment_attempts (issuer_id, status, next_retry_at, id);
CREATE INDEX payment_attempts_customer ON payment_attempts (issuer_id, customer, created_at);

-- A webhook event is processed once: its id is recorded in the transaction
-- that applies its change.
CREATE TABLE payment_webhook_events (
    issuer_id TEXT COLLATE "C" NOT NULL,
    provider TEXT COLLATE "C" NOT NULL,
    event_id TEXT COLLATE "C" NOT NULL,
    kind TEXT NOT NULL,
    object_id TEXT COLLATE "C" NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (issuer_id, provider, event_id)
);

-- One refund per credit note.
CREATE TABLE payment_refunds (
    issuer_id TEXT COLLATE "C" NOT NULL,
    credit_note_id TEXT COLLATE "C" NOT NULL,
    attempt_id TEXT COLLATE "C" NOT NULL,
    provider TEXT COLLATE "C" NOT NULL,
    provider_reference TEXT COLLATE "C" NOT NULL,
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (issuer_id, credit_note_id),
    FOREIGN KEY (issuer_id, attempt_id) REFERENCES payment_attempts (issuer_id, id),
    FOREIGN KEY (issuer_id, credit_note_id) REFERENCES credit_notes (issuer_id, id)
);

CREATE INDEX payment_refunds_attempt ON payment_refunds (issuer_id, attempt_id, created_at);
