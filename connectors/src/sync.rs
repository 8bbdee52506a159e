//! The sync engine: pages from a connector into the listing store.
