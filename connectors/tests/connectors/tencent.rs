//! Tests of tencent (to be written).
