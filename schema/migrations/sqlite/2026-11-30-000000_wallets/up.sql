-- Prepaid wallets: one per customer and currency, kept as a double-entry,
-- append-only ledger (`shiyun_core::billing::wallet`).
--
-- Amounts are BIGINT millionths, times BIGINT microseconds, as in billing;
-- text keys compare bytewise (BINARY), as on PostgreSQL.
-- `wallets.balance` always equals the sum of the customer's `wallet`
-- postings in that currency and equals `SUM(wallet_credits.remaining) -
-- debt`: `debt` is what debits took beyond every credit (an overdraft,
-- down to `floor`); a later credit repays it first, so debt and unused
-- credit never stand side by side. `floor` (0 or negative) has its own
-- column so the debit's check is a comparison of integers; `settings`
-- holds the rest as JSON, and `top_up_days` copies an interval automatic
-- top-up's days out of it for the due-wallet query.

CREATE TABLE wallets (
    issuer_id TEXT NOT NULL,
    customer TEXT NOT NULL,
    currency TEXT NOT NULL,
    balance BIGINT NOT NULL,
    debt BIGINT NOT NULL DEFAULT 0 CHECK (debt >= 0),
    floor BIGINT NOT NULL CHECK (floor <= 0),
    settings TEXT NOT NULL,
    top_up_days BIGINT,
    last_auto_top_up_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (issuer_id, customer, currency),
    FOREIGN KEY (issuer_id, customer) REFERENCES billing_customers (issuer_id, external_id)
);
CREATE INDEX wallets_top_up ON wallets (issuer_id, customer, currency)
    WHERE top_up_days IS NOT NULL;

-- A top-up or grant and what is left of it. `expired_at` is set when its
-- remainder expired (breakage). Debits draw by priority, then earliest
-- expiry (none last), then first in (`created_at`, `seq`).
CREATE TABLE wallet_credits (
    issuer_id TEXT NOT NULL,
    id TEXT NOT NULL,
    customer TEXT NOT NULL,
    currency TEXT NOT NULL,
    kind TEXT NOT NULL,
    priority BIGINT NOT NULL,
    expires_at BIGINT,
    amount BIGINT NOT NULL CHECK (amount > 0),
    remaining BIGINT NOT NULL CHECK (remaining >= 0 AND remaining <= amount),
    reference TEXT,
    seq BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expired_at BIGINT,
    PRIMARY KEY (issuer_id, id),
    FOREIGN KEY (issuer_id, customer, currency) REFERENCES wallets (issuer_id, customer, currency)
);
CREATE INDEX wallet_credits_open ON wallet_credits (issuer_id, customer, currency)
    WHERE remaining > 0;
CREATE INDEX wallet_credits_expiring ON wallet_credits (issuer_id, expires_at)
    WHERE remaining > 0 AND expires_at IS NOT NULL;

-- One row per ledger transaction: its idempotency key (unique per issuer),
-- the request it stands for (compared on a replay) and, for a debit, the
-- balances around it.
CREATE TABLE wallet_transactions (
    issuer_id TEXT NOT NULL,
    id TEXT NOT NULL,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    customer TEXT NOT NULL,
    currency TEXT NOT NULL,
    request TEXT NOT NULL,
    balance_before BIGINT NOT NULL,
    balance_after BIGINT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (issuer_id, id),
    UNIQUE (issuer_id, key)
);

-- Append-only postings; `seq` counts per issuer in commit order (the
-- `wallet_seq` counter's row lock orders writers). A transaction's
-- postings sum to zero.
CREATE TABLE wallet_ledger (
    issuer_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    transaction_id TEXT NOT NULL,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    customer TEXT NOT NULL,
    currency TEXT NOT NULL,
    account TEXT NOT NULL,
    amount BIGINT NOT NULL,
    credit_id TEXT,
    subscription_id TEXT,
    at BIGINT NOT NULL,
    PRIMARY KEY (issuer_id, seq)
);
CREATE INDEX wallet_ledger_customer ON wallet_ledger (issuer_id, customer, seq);
CREATE INDEX wallet_ledger_transaction ON wallet_ledger (issuer_id, transaction_id);

CREATE TRIGGER wallet_ledger_no_update BEFORE UPDATE ON wallet_ledger
BEGIN
    SELECT RAISE(ABORT, 'wallet_ledger is append-only: UPDATE refused');
END;
CREATE TRIGGER wallet_ledger_no_delete BEFORE DELETE ON wallet_ledger
BEGIN
    SELECT RAISE(ABORT, 'wallet_ledger is append-only: DELETE refused');
END;
CREATE TRIGGER wallet_transactions_no_update BEFORE UPDATE ON wallet_transactions
BEGIN
    SELECT RAISE(ABORT, 'wallet_transactions is append-only: UPDATE refused');
END;
CREATE TRIGGER wallet_transactions_no_delete BEFORE DELETE ON wallet_transactions
BEGIN
    SELECT RAISE(ABORT, 'wallet_transactions is append-only: DELETE refused');
END;
