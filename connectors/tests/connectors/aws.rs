//! Tests of aws (to be written).
