//! Tests of alibaba (to be written).
