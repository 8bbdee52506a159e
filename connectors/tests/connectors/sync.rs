//! Tests of sync (to be written).
