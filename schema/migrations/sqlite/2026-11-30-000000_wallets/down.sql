DROP TABLE wallet_ledger;
DROP TABLE wallet_transactions;
DROP TABLE wallet_credits;
DROP TABLE wallets;
