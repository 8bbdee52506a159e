//! Tests of azure (to be written).
