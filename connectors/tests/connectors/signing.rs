//! Tests of signing (to be written).
