//! Structured logging through `tracing`, human-readable or JSON.
//!
//! Nothing logged may contain a secret: secrets are wrapped so that their
//! `Debug` and `Display` never print them, and requests are logged by
//! method, never by payload.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber writing to stdout. Fails on a filter that
/// does not parse.
pub fn init(format: LogFormat, filter: &str) -> Result<(), String> {
    let filter =
        EnvFilter::try_new(filter).map_err(|e| format!("invalid log filter `{filter}`: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .with_target(true);
    let result = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
    result.map_err(|e| format!("cannot install the log subscriber: {e}"))
}
