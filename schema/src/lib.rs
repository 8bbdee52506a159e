//! Shiyun storage (being built).
