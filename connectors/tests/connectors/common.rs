//! Shared test helpers: where the shared vendor fixtures are.

use std::path::PathBuf;

/// `../shared/fixtures` beside the repository root, or `FIXTURES_DIR`.
pub fn fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FIXTURES_DIR") {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures")
}

/// The bytes of `vendors/<vendor>/<file>`; fails the test when missing, so a
/// missing fixture folder is never a silent pass.
#[allow(dead_code)]
pub fn vendor_fixture(vendor: &str, file: &str) -> Vec<u8> {
    let path = fixtures_dir().join("vendors").join(vendor).join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// The parsed signing vectors.
#[allow(dead_code)]
pub fn signing_vectors() -> serde_json::Value {
    let path = fixtures_dir().join("signing-vectors.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}
