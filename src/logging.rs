//! Log setup: `-v`/`-q` pick a level, `RUST_LOG` overrides it; logs go to stderr.
//!
//! Nothing Heimdall logs contains a token: the token is only ever inside
//! [`crate::config::Token`], whose `Debug` is redacted, and in a header marked sensitive.

use tracing_subscriber::EnvFilter;

/// `verbose` counts `-v`; `quiet` is `-q`.
pub fn init(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter = crate::config::log_filter()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(format!("heimdall={level},warn")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// An error and its causes on one line (`what: why: deeper why`), skipping a cause whose
/// text an earlier part already quotes.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}
