//! Tests of ctyun (to be written).
