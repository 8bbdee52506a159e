DROP TABLE wallet_ledger;
DROP TABLE wallet_transactions;
DROP FUNCTION wallet_append_only();
DROP TABLE wallet_credits;
DROP TABLE wallets;
