//! Filled by the billing kernel work.
