//! End-to-end tests of Shiyun through its HTTP API (`tests/api/`), and the
//! runnable embedding examples (`examples/`). The library part holds what
//! several test binaries share.

/// Runs each listed synchronous test body on a fresh SQLite and a fresh
/// PostgreSQL database (`fn name(db) { … }`, `db` a `&TestDatabase`).
#[macro_export]
macro_rules! on_both_databases {
    ($(fn $name:ident($db:ident) $body:block)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(#[test] fn $name() {
                let db = shiyun_schema::testing::TestDatabase::sqlite();
                let $db: &shiyun_schema::testing::TestDatabase = &db;
                $body
            })*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(#[test] fn $name() {
                let db = shiyun_schema::testing::TestDatabase::postgres();
                let $db: &shiyun_schema::testing::TestDatabase = &db;
                $body
            })*
        }
    };
}

pub mod stripe;
