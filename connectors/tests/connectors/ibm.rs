//! Tests of ibm (to be written).
