//! Tests of ucloud (to be written).
