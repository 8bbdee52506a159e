DROP TABLE payment_refunds;
DROP TABLE payment_webhook_events;
DROP TABLE payment_attempts;
DROP TABLE payment_provider_customers;
