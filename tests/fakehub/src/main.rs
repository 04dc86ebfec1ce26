//! `fakehub --root DIR`: serves a directory of bare repositories with
//! GitHub's REST API until SIGINT/SIGTERM.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "fakehub",
    about = "A GitHub-compatible REST test server over bare git repositories"
)]
struct Args {
    /// Directory holding <owner>/<repo>.git bare repositories.
    #[arg(long)]
    root: PathBuf,
    /// Port to listen on (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Fixed delay before every response, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Random extra delay up to this many milliseconds.
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    /// Primary rate limit per accepted token, per window.
    #[arg(long, default_value_t = 5000)]
    rate_limit: u32,
    /// Primary rate limit for anonymous requests, per window.
    #[arg(long, default_value_t = 60)]
    anon_rate_limit: u32,
    /// Rate-limit window in seconds.
    #[arg(long, default_value_t = 3600)]
    rate_window_secs: u64,
    /// Answer an exhausted rate limit with 429 instead of 403.
    #[arg(long)]
    rate_limit_429: bool,
    /// Maximum entries in a tree response before "truncated": true.
    #[arg(long, default_value_t = 100_000)]
    truncate_at: usize,
    /// Never gzip responses (by default they are, when the client accepts it).
    #[arg(long)]
    no_gzip: bool,
    /// An accepted token (repeatable).
    #[arg(long = "token")]
    tokens: Vec<String>,
}

fn main() -> std::io::Result<()> {
    let a = Args::parse();
    let config = fakehub::Config {
        tokens: a.tokens,
        rate_limit: a.rate_limit,
        anon_rate_limit: a.anon_rate_limit,
        rate_window: Duration::from_secs(a.rate_window_secs),
        rate_limit_status_429: a.rate_limit_429,
        latency: Duration::from_millis(a.latency_ms),
        jitter: Duration::from_millis(a.jitter_ms),
        truncate_threshold: a.truncate_at,
        gzip: !a.no_gzip,
    };
    let hub = fakehub::FakeHub::spawn_on(SocketAddr::new(a.bind, a.port), a.root, config)?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", hub.url())?;
        out.flush()?;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        Ok::<(), std::io::Error>(())
    })?;
    drop(hub);
    Ok(())
}
