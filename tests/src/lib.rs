//! End-to-end tests of Shiyun through its HTTP API (`tests/api/`), and the
//! runnable embedding example (`examples/embed.rs`). The library part is empty.
