DROP TABLE market_standing;
DROP TABLE market_contracts;
DROP TABLE market_own_resources;
DROP TABLE market_orders;
DROP TABLE market_margin_rules;
