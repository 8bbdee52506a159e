//! Structured logs with `tracing`: text or JSON lines, filtered by `SHIYUN_LOG`
//! (e.g. `SHIYUN_LOG=debug`), to stderr so stdout stays for command output.

use tracing_subscriber::EnvFilter;

use crate::settings::LogFormat;

/// Installs the global subscriber once per process (binaries only).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("SHIYUN_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests) is harmless: keep the first subscriber.
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
