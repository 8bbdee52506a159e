//! Tests of gcp (to be written).
