//! Tests of kingsoft (to be written).
