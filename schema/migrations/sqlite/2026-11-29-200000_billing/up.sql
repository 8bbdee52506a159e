-- Billing: issuers, their customers, meters, plans, usage events,
-- subscriptions, invoices with their lines, credit notes, payments, prepaid
-- balances and the hash-chained audit trail.
--
-- Every row carries its issuer and every key starts with it, so one
-- issuer's ids never collide with (or reveal) another's. Amounts and
-- quantities are BIGINT millionths of the unit (`shiyun_core::billing::scaled`),
-- so SUM, MAX and comparisons in SQL are exact on both backends; a tax rate
-- is never added up and stays a decimal string. Timestamps are BIGINT
-- microseconds since the Unix epoch, UTC. Text keys compare bytewise
-- (BINARY), as on PostgreSQL where they are COLLATE "C".
--
-- `billing_counters` holds one row per issuer and counter: `ingest_batch`
-- (the usage watermark), `invoice_number` (gapless numbering) and
-- `audit_seq` (the audit chain's length). They are separate rows so that an
-- ingest batch (which holds `ingest_batch` locked until it commits, making
-- batches commit in number order) never waits for a finalisation.
-- The audit chain's head hash is its last row's (`billing_audit`).

CREATE TABLE billing_issuers (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    invoice_prefix TEXT NOT NULL,
    grace_period_hours BIGINT NOT NULL,
    late_window_days BIGINT NOT NULL
);

CREATE TABLE billing_counters (
    issuer_id TEXT NOT NULL REFERENCES billing_issuers (id),
    name TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (issuer_id, name)
);

-- `tax_rate` is a decimal string (a fraction, `0.06`).
CREATE TABLE billing_customers (
    issuer_id TEXT NOT NULL REFERENCES billing_issuers (id),
    external_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    timezone TEXT NOT NULL,
    tax_rate TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (issuer_id, external_id),
    UNIQUE (issuer_id, id)
);

CREATE TABLE billing_prepaid (
    issuer_id TEXT NOT NULL,
    customer TEXT NOT NULL,
    currency TEXT NOT NULL,
    balance BIGINT NOT NULL,
    PRIMARY KEY (issuer_id, customer, currency),
    FOREIGN KEY (issuer_id, customer) REFERENCES billing_customers (issuer_id, external_id)
);

CREATE TABLE billing_meters (
    issuer_id TEXT NOT NULL REFERENCES billing_issuers (id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    aggregation TEXT NOT NULL,
    property TEXT,
    PRIMARY KEY (issuer_id, code)
);

-- Immutable once created: new prices are a new code.
CREATE TABLE billing_plans (
    issuer_id TEXT NOT NULL REFERENCES billing_issuers (id),
    code TEXT NOT NULL,
    currency TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (issuer_id, code)
);

-- Accepted usage, once per idempotency key. `value` is the meter's property
-- in millionths (NULL for `count` and `unique_count`), `distinct_value` the
-- property as text for `unique_count`; `batch` is the ingest batch (the
-- watermark unit). No foreign keys: the hot path checks customers itself
-- and a key lookup per row would cost more than it guards.
CREATE TABLE usage_events (
    issuer_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    customer TEXT NOT NULL,
    meter TEXT NOT NULL,
    ts BIGINT NOT NULL,
    value BIGINT,
    distinct_value TEXT,
    properties TEXT NOT NULL,
    payload_hash TEXT NOT NULL,
    batch BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (issuer_id, idempotency_key)
);
-- Aggregates and gauges: one customer's (or every customer's) window.
CREATE INDEX usage_events_customer ON usage_events (issuer_id, customer, meter, ts);
-- Exports page by (ts, key).
CREATE INDEX usage_events_time ON usage_events (issuer_id, ts, idempotency_key);

-- `phases` is a JSON array of {plan, starts_on}; `ends_on` a YYYY-MM-DD
-- local date; `coupons` the billing crate's JSON.
CREATE TABLE billing_subscriptions (
    issuer_id TEXT NOT NULL,
    id TEXT NOT NULL,
    customer TEXT NOT NULL,
    phases TEXT NOT NULL,
    ends_on TEXT,
    status TEXT NOT NULL,
    coupons TEXT NOT NULL,
    next_period_start BIGINT NOT NULL,
    next_period_end BIGINT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (issuer_id, id),
    FOREIGN KEY (issuer_id, customer) REFERENCES billing_customers (issuer_id, external_id)
);
CREATE INDEX billing_subscriptions_due
    ON billing_subscriptions (issuer_id, status, next_period_end, id);

-- One invoice per subscription period: a rerun of a bill run finds it. An
-- opening period may be empty ([s, s)) and followed by [s, e), so the end
-- is part of the key. `number` is set at finalisation, gapless per issuer.
-- total = subtotal - discount + tax - credit_notes - prepaid.
CREATE TABLE invoices (
    issuer_id TEXT NOT NULL,
    id TEXT NOT NULL,
    customer TEXT NOT NULL,
    subscription_id TEXT,
    number TEXT,
    status TEXT NOT NULL,
    currency TEXT NOT NULL,
    period_start BIGINT NOT NULL,
    period_end BIGINT NOT NULL,
    usage_batch BIGINT NOT NULL,
    subtotal BIGINT NOT NULL,
    discount BIGINT NOT NULL,
    tax BIGINT NOT NULL,
    credit_notes BIGINT NOT NULL,
    prepaid BIGINT NOT NULL,
    total BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    finalized_at BIGINT,
    paid_at BIGINT,
    voided_at BIGINT,
    PRIMARY KEY (issuer_id, id),
    UNIQUE (issuer_id, number),
    UNIQUE (issuer_id, subscription_id, period_start, period_end),
    FOREIGN KEY (issuer_id, customer) REFERENCES billing_customers (issuer_id, external_id)
);
CREATE INDEX invoices_status ON invoices (issuer_id, status, period_end);
CREATE INDEX invoices_customer ON invoices (issuer_id, customer, id);

-- `detail` is JSON; `adjusts_*` name the line an adjustment corrects.
CREATE TABLE invoice_lines (
    issuer_id TEXT NOT NULL,
    invoice_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    kind TEXT NOT NULL,
    description TEXT NOT NULL,
    meter TEXT,
    plan TEXT,
    quantity BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    period_start BIGINT NOT NULL,
    period_end BIGINT NOT NULL,
    adjusts_invoice TEXT,
    adjusts_position BIGINT,
    detail TEXT NOT NULL,
    PRIMARY KEY (issuer_id, invoice_id, position),
    FOREIGN KEY (issuer_id, invoice_id) REFERENCES invoices (issuer_id, id)
);

-- `remaining` is what later invoices of the customer may still draw.
CREATE TABLE credit_notes (
    issuer_id TEXT NOT NULL,
    id TEXT NOT NULL,
    invoice_id TEXT NOT NULL,
    customer TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL,
    remaining BIGINT NOT NULL,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (issuer_id, id),
    FOREIGN KEY (issuer_id, invoice_id) REFERENCES invoices (issuer_id, id)
);
CREATE INDEX credit_notes_invoice ON credit_notes (issuer_id, invoice_id, created_at, id);
CREATE INDEX credit_notes_open ON credit_notes (issuer_id, customer, currency, created_at, id);

-- What a finalisation drew from the customer's balances (a credit note by
-- its id, or `prepaid`), so a void gives exactly that back.
CREATE TABLE invoice_draws (
    issuer_id TEXT NOT NULL,
    invoice_id TEXT NOT NULL,
    source TEXT NOT NULL,
    amount BIGINT NOT NULL,
    PRIMARY KEY (issuer_id, invoice_id, source),
    FOREIGN KEY (issuer_id, invoice_id) REFERENCES invoices (issuer_id, id)
);

-- A payment reference is used once per issuer.
CREATE TABLE payments (
    issuer_id TEXT NOT NULL,
    reference TEXT NOT NULL,
    invoice_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (issuer_id, reference),
    FOREIGN KEY (issuer_id, invoice_id) REFERENCES invoices (issuer_id, id)
);

-- Append-only: hash = audit_hash(prev_hash, seq, at, action, subject,
-- payload); seq counts from 1 per issuer. No foreign keys: an entry
-- outlives what it names.
CREATE TABLE billing_audit (
    issuer_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (issuer_id, seq)
);

CREATE TRIGGER billing_audit_no_update BEFORE UPDATE ON billing_audit
BEGIN
    SELECT RAISE(ABORT, 'billing_audit is append-only: UPDATE refused');
END;
CREATE TRIGGER billing_audit_no_delete BEFORE DELETE ON billing_audit
BEGIN
    SELECT RAISE(ABORT, 'billing_audit is append-only: DELETE refused');
END;
