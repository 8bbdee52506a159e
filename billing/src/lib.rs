//! Shiyun billing.
//!
//! This crate will meter usage and charge for it: prepaid wallets with
//! real-time deduction, postpaid invoicing at period end, contracted service
//! fees and the platform's margin over vendor cost, invoice and usage exports,
//! and payments through Stripe. It rates with [`shiyun_core::money::Money`] at
//! full precision and rounds once per invoice line; storage comes through store
//! traits that `shiyun-core` defines and `shiyun-schema` implements.
//!
//! It is empty until the billing issue fills it.
