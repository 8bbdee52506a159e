//! One module per resource; handlers are `<verb>_<resource>`: extract,
//! validate, call one store or library function, map the result.

pub mod changes;
pub mod health;
pub mod listings;
pub mod openapi;
pub mod sync_runs;
pub mod vendors;
